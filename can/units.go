package can

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// unit is a physical unit: its dimension and how a value in it becomes a
// value in the dimension's base unit (base = v*scale + offset).
type unit struct {
	dim           string
	scale, offset float64
}

// units are the spellings found in real DBC files and profiles, lower-case.
// A unit that is not here cannot be converted: the profile is refused
// rather than a value guessed.
var units = map[string]unit{}

func init() {
	add := func(dim string, scale, offset float64, names ...string) {
		for _, n := range names {
			units[n] = unit{dim, scale, offset}
		}
	}
	add("speed", 1, 0, "km/h", "kph", "km/hr", "kmh", "kmph", "km/hour")
	add("speed", 1.609344, 0, "mph", "mi/h", "mi/hr")
	add("speed", 3.6, 0, "m/s", "mps", "m/sec")
	add("speed", 1.852, 0, "kn", "kt", "knot", "knots")
	add("length", 1, 0, "m", "meter", "meters", "metre", "metres")
	add("length", 1000, 0, "km")
	add("length", 0.01, 0, "cm")
	add("length", 0.001, 0, "mm")
	add("length", 0.3048, 0, "ft", "feet", "foot")
	add("length", 0.0254, 0, "in", "inch")
	add("length", 1609.344, 0, "mi", "mile", "miles")
	add("angle", 1, 0, "deg", "°", "degree", "degrees")
	add("angle", 180/math.Pi, 0, "rad", "radian", "radians")
	add("angular rate", 1, 0, "deg/s", "°/s")
	add("angular rate", 180/math.Pi, 0, "rad/s")
	add("time", 1, 0, "s", "sec")
	add("time", 0.001, 0, "ms")
	add("time", 1e-6, 0, "us", "µs")
	add("time", 60, 0, "min")
	add("time", 3600, 0, "h", "hr")
	add("temperature", 1, 0, "degc", "deg c", "°c", "celsius")
	add("temperature", 5.0/9, -32*5.0/9, "degf", "deg f", "°f", "fahrenheit")
	add("temperature", 1, -273.15, "k", "kelvin")
	add("acceleration", 1, 0, "m/s2", "m/s^2", "m/s²")
	add("acceleration", 9.80665, 0, "g")
	add("ratio", 1, 0, "1")
	add("ratio", 0.01, 0, "%")
}

func lookupUnit(name string) (unit, bool) {
	u, ok := units[strings.ToLower(strings.TrimSpace(name))]
	return u, ok
}

// KnownUnit reports whether name is a unit the signal map can convert.
func KnownUnit(name string) bool {
	_, ok := lookupUnit(name)
	return ok
}

// Conversion turns a physical value of a DBC signal into the unit of its
// role: v*Scale + Offset. The zero Conversion is not valid; use Identity.
type Conversion struct {
	Scale, Offset float64
}

// Identity leaves values as they are.
var Identity = Conversion{Scale: 1}

// Apply converts v.
func (c Conversion) Apply(v float64) float64 { return v*c.Scale + c.Offset }

// Errors of Convert.
var (
	ErrUnknownUnit      = errors.New("unknown unit")
	ErrIncompatibleUnit = errors.New("incompatible units")
)

// Convert returns the conversion from unit from (a DBC signal's) to unit to
// (a role's). Units are compared without regard to case: the DBC's "MPH"
// is mph.
func Convert(from, to string) (Conversion, error) {
	uf, ok := lookupUnit(from)
	if !ok {
		return Conversion{}, fmt.Errorf("convert %q to %q: %q: %w", from, to, from, ErrUnknownUnit)
	}
	ut, ok := lookupUnit(to)
	if !ok {
		return Conversion{}, fmt.Errorf("convert %q to %q: %q: %w", from, to, to, ErrUnknownUnit)
	}
	if uf.dim != ut.dim {
		return Conversion{}, fmt.Errorf("convert %q (%s) to %q (%s): %w", from, uf.dim, to, ut.dim, ErrIncompatibleUnit)
	}
	if uf == ut {
		return Identity, nil
	}
	return Conversion{Scale: uf.scale / ut.scale, Offset: (uf.offset - ut.offset) / ut.scale}, nil
}
