package uplink

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Class is what a signal's values are, for what may leave the vehicle. The
// gateway gives every sample the class of its role (the vehicle profile
// says it: a closed vocabulary of well-known roles, and custom roles that
// declare theirs); the Redactor lets out only ClassVehicle, whatever the
// policy lists. The zero Class is ClassUnknown, which never leaves: a
// sample nobody classified is not vehicle data.
type Class uint8

const (
	// ClassUnknown: not classified; never leaves.
	ClassUnknown Class = iota
	// ClassVehicle: the vehicle's own state (speed, ignition, ...); may
	// leave where the policy allows it, near zones too.
	ClassVehicle
	// ClassLocation: where the vehicle is or was, or what traces its path
	// (coordinates, heading, odometer, camera suppression); never leaves
	// as a signal. The position leaves only as the policy's snapped
	// position (PositionKey), which the gateway withholds near zones.
	ClassLocation
	// ClassPersonal: the occupants' data (phone, contacts, the privacy
	// switch); never leaves.
	ClassPersonal
)

var classNames = [...]string{ClassUnknown: "unknown", ClassVehicle: "vehicle", ClassLocation: "location", ClassPersonal: "personal"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// ParseClass reads a class as a profile declares it: vehicle, location or
// personal.
func ParseClass(s string) (Class, error) {
	for c := ClassVehicle; int(c) < len(classNames); c++ {
		if s == classNames[c] {
			return c, nil
		}
	}
	return ClassUnknown, fmt.Errorf("class %q: want vehicle, location or personal", s)
}

// MaxRoleLen bounds a role's name.
const MaxRoleLen = 64

// roleName is the one spelling of a role (and of an alarm's name): lower
// case ASCII words of letters, digits and underscores, joined by dots. No
// capitals, no other scripts (a Cyrillic о looks like an o), no spaces or
// invisible characters, no patterns.
var roleName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// ValidRole reports whether name is spelled as a role must be. Every role
// has exactly one spelling, so that two spellings can never be two roles
// with one meaning; confusable letters of other scripts, case variants and
// patterns are simply not role names.
func ValidRole(name string) bool {
	return len(name) <= MaxRoleLen && roleName.MatchString(name)
}

// RoleSpelling says what ValidRole wants, for messages.
const RoleSpelling = "roles are lower-case ASCII words (a-z, 0-9, _) joined by dots, at most 64 characters: no capitals, no other scripts, no patterns"

// The closed vocabulary of well-known roles and their classes. A vehicle
// profile maps a DBC signal to each role it has; a role that is not here
// is a custom role, whose class the profile must declare. A role's class
// never depends on the policy, and only ClassVehicle can leave.
var wellKnown = map[string]Class{
	"vehicle.speed":          ClassVehicle,  // km/h, from the wheels
	"vehicle.ignition":       ClassVehicle,  // non-zero: on
	"vehicle.odometer":       ClassLocation, // distance travelled: with a known start, where
	"vehicle.yaw_rate":       ClassLocation, // deg/s: integrated with the speed, the path
	"vehicle.steering_angle": ClassLocation, // deg: likewise
	"position.latitude":      ClassLocation, // deg
	"position.longitude":     ClassLocation, // deg
	"position.altitude":      ClassLocation, // m
	"position.fix":           ClassLocation, // 0 none .. 5 RTK fixed
	"position.accuracy":      ClassLocation, // m
	"position.hdop":          ClassLocation,
	"position.heading":       ClassLocation, // deg from north
	"position.speed":         ClassLocation, // km/h over ground, from GNSS
	"privacy.switch":         ClassPersonal, // the occupants' choice
	"phone.contact.index":    ClassPersonal,
	"phone.contact.chars":    ClassPersonal,
}

// reservedFamilies name only well-known roles: a custom role may not be
// called position.anything, phone.anything or privacy.anything, nor by a
// family's bare name (position is the policy's key for the snapped
// position). A name in a reserved family that is not well-known has the
// family's class wherever it turns up (a policy key, an alarm value).
var reservedFamilies = map[string]Class{
	"position": ClassLocation,
	"phone":    ClassPersonal,
	"privacy":  ClassPersonal,
}

// Camera roles are camera.NAME.status and camera.NAME.trigger: whether a
// camera is suppressed says where zones are, so they are location data.
const (
	cameraPrefix  = "camera."
	cameraStatus  = ".status"
	cameraTrigger = ".trigger"
)

// RoleClass returns the class of a well-known role; ok is false for any
// other name (a custom role, or no role at all).
func RoleClass(role string) (c Class, ok bool) {
	if c, ok := wellKnown[role]; ok {
		return c, true
	}
	if cameraRole(role) {
		return ClassLocation, true
	}
	return ClassUnknown, false
}

// cameraRole reports whether role is camera.NAME.status or
// camera.NAME.trigger (the gateway's cameraRole reads NAME from it).
func cameraRole(role string) bool {
	rest, found := strings.CutPrefix(role, cameraPrefix)
	if !found || !ValidRole(role) {
		return false
	}
	for _, what := range []string{cameraStatus, cameraTrigger} {
		if n, found := strings.CutSuffix(rest, what); found && n != "" {
			return true
		}
	}
	return false
}

// Reserved returns the family a name belongs to if that family is
// reserved for well-known roles (position, phone, privacy), with the
// family's class.
func Reserved(role string) (family string, c Class, ok bool) {
	family, _, _ = strings.Cut(role, ".")
	c, ok = reservedFamilies[family]
	return family, c, ok
}

// Motion roles: values that say how the vehicle moves — speed, heading,
// distance, accelerations, yaw, steering, wheel speeds, gear and engine
// speed. Some may leave where the policy allows them (vehicle.speed is
// vehicle data), but never from a withheld stretch: integrated over it, or
// matched to the road fitted from published positions, they say where the
// vehicle was inside it and whether it stopped there. A merged record
// (Uplink: a withheld stretch, a trip's end) carries only what a parked
// car would say, ParkedRole.
var motionRoles = map[string]bool{
	"vehicle.speed":          true,
	"vehicle.odometer":       true,
	"vehicle.trip_distance":  true,
	"vehicle.yaw_rate":       true,
	"vehicle.steering_angle": true,
	"vehicle.gear":           true,
	"vehicle.rpm":            true,
	"vehicle.engine_speed":   true,
	"position.heading":       true,
	"position.speed":         true,
}

// motionFamilies: every role under these names is a motion role.
var motionFamilies = []string{"vehicle.acceleration.", "vehicle.wheel_speed.", "vehicle.accel.", "vehicle.odometer."}

// MotionRole reports whether a role's values say how the vehicle moves
// (motionRoles, or a name under vehicle.acceleration., vehicle.accel.,
// vehicle.wheel_speed., vehicle.odometer.).
func MotionRole(role string) bool {
	if motionRoles[role] {
		return true
	}
	for _, f := range motionFamilies {
		if strings.HasPrefix(role, f) {
			return true
		}
	}
	return false
}

// ParkedRole reports whether a role may be in a merged record: a
// well-known role of ClassVehicle that is not a motion role, such as
// vehicle.ignition. Default deny: a custom role may accumulate with
// distance (a battery's charge, fuel), and the uplink cannot know that it
// does not, so it stays out of merged records too.
func ParkedRole(role string) bool {
	c, ok := wellKnown[role]
	return ok && c == ClassVehicle && !MotionRole(role)
}

// WellKnownRoles lists the well-known roles (camera roles aside), sorted.
func WellKnownRoles() []string { return slices.Sorted(maps.Keys(wellKnown)) }
