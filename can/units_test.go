package can_test

import (
	"errors"
	"math"
	"testing"

	"quietzone/can"
)

func TestConvert(t *testing.T) {
	tests := []struct {
		from, to string
		in, want float64
	}{
		{"MPH", "km/h", 60, 96.56064},
		{"mph", "kph", 1, 1.609344},
		{"m/s", "km/h", 10, 36},
		{"km/hr", "m/s", 36, 10},
		{"km/h", "km/h", 42, 42},
		{"kn", "km/h", 1, 1.852},
		{"rad", "deg", math.Pi, 180},
		{"deg", "rad", 90, math.Pi / 2},
		{"°", "deg", 12.5, 12.5},
		{"ft", "m", 1000, 304.8},
		{"km", "m", 1.5, 1500},
		{"mi", "km", 1, 1.609344},
		{"ms", "s", 250, 0.25},
		{"degF", "degC", 212, 100},
		{"deg C", "K", 0, 273.15},
		{"%", "1", 50, 0.5},
	}
	for _, tt := range tests {
		c, err := can.Convert(tt.from, tt.to)
		if err != nil {
			t.Errorf("Convert(%q, %q): %v", tt.from, tt.to, err)
			continue
		}
		if got := c.Apply(tt.in); math.Abs(got-tt.want) > 1e-9*math.Max(1, math.Abs(tt.want)) {
			t.Errorf("Convert(%q, %q).Apply(%v) = %v, want %v", tt.from, tt.to, tt.in, got, tt.want)
		}
	}
	if c, _ := can.Convert("KM/H", "kph"); c != can.Identity {
		t.Errorf("km/h to kph = %+v, want Identity", c)
	}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		from, to string
		want     error
	}{
		{"mph", "deg", can.ErrIncompatibleUnit},
		{"m", "s", can.ErrIncompatibleUnit},
		{"degC", "deg", can.ErrIncompatibleUnit}, // "deg C" is a temperature, "deg" an angle
		{"kph/mph", "km/h", can.ErrUnknownUnit},  // Tesla's UI_userSpeedOffset: either
		{"km/h", "parsec/h", can.ErrUnknownUnit},
		{"", "km/h", can.ErrUnknownUnit},
	}
	for _, tt := range tests {
		if _, err := can.Convert(tt.from, tt.to); !errors.Is(err, tt.want) {
			t.Errorf("Convert(%q, %q) = %v, want %v", tt.from, tt.to, err, tt.want)
		}
	}
	if !can.KnownUnit(" MPH ") || can.KnownUnit("furlong") {
		t.Error("KnownUnit")
	}
}
