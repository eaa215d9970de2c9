package config

import (
	"quietzone/gateway"
	"strings"
)

// turningFile is a profile's turning section:
//
//	turning:
//	  yaw_rate_positive: left      # or right; left (ISO 8855) if not given
//	  steering_positive: right
//	  steering_ratio: 12.0         # steering wheel degrees per road wheel degree
//	  wheelbase_m: 2.875
type turningFile struct {
	YawRatePositive  string   `yaml:"yaw_rate_positive"`
	SteeringPositive string   `yaml:"steering_positive"`
	SteeringRatio    *float64 `yaml:"steering_ratio"`
	WheelbaseM       *float64 `yaml:"wheelbase_m"`
}

// load checks the turning section against the roles p maps: the keys of a
// role it does not map are refused, and a steering angle needs its
// bicycle model.
func (tf *turningFile) load(doc *YAMLDoc, p *Profile) (gateway.Turning, error) {
	var t gateway.Turning
	yaw, steering := p.Signal(gateway.RoleYawRate) != nil, p.Signal(gateway.RoleSteeringAngle) != nil
	if tf == nil {
		if steering {
			return t, doc.Errorf([]any{"signals", gateway.RoleSteeringAngle}, "%s needs turning.steering_ratio and turning.wheelbase_m to be turned into a yaw rate", gateway.RoleSteeringAngle)
		}
		return t, nil
	}
	side := func(key, v string, role string, mapped bool) (bool, error) {
		switch {
		case v == "":
			return false, nil
		case !mapped:
			return false, doc.Errorf([]any{"turning", key}, "turning.%s: the profile maps no %s", key, role)
		case v == "left" || v == "right":
			return v == "right", nil
		}
		return false, doc.Errorf([]any{"turning", key}, "turning.%s: want left or right, got %q", key, v)
	}
	var err error
	if t.YawRateRight, err = side("yaw_rate_positive", tf.YawRatePositive, gateway.RoleYawRate, yaw); err != nil {
		return t, err
	}
	if t.SteeringRight, err = side("steering_positive", tf.SteeringPositive, gateway.RoleSteeringAngle, steering); err != nil {
		return t, err
	}
	for _, k := range []struct {
		key string
		v   *float64
		to  *float64
	}{
		{"steering_ratio", tf.SteeringRatio, &t.SteeringRatio},
		{"wheelbase_m", tf.WheelbaseM, &t.WheelbaseM},
	} {
		switch {
		case k.v != nil && !steering:
			return t, doc.Errorf([]any{"turning", k.key}, "turning.%s: the profile maps no %s", k.key, gateway.RoleSteeringAngle)
		case k.v == nil && steering:
			return t, doc.Errorf([]any{"turning"}, "turning.%s is required: %s is mapped", k.key, gateway.RoleSteeringAngle)
		case k.v != nil:
			*k.to = *k.v
		}
	}
	if err := t.Validate(); err != nil {
		key, _, _ := strings.Cut(err.Error(), " ")
		return t, doc.Errorf([]any{"turning", key}, "turning.%v", err)
	}
	return t, nil
}
