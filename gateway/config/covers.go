package config

import (
	"fmt"

	"quietzone/geofence"
)

// ParseCovers reads a bundle's covers: a GeoJSON FeatureCollection of
// circles (Point features with radius_m) and nothing else, no buffer, no
// validity window, no policy: a cover withholds always, as drawn. Which
// are decoys is not said anywhere: on the vehicle a decoy is a cover.
// Errors name the feature by its index, never a position.
func ParseCovers(name string, data []byte) (*geofence.Index, error) {
	ix, err := geofence.Parse(name, data, geofence.Options{})
	if err != nil {
		return nil, fmt.Errorf("load covers: %w", err)
	}
	for i := range ix.Len() {
		z := ix.Zone(i)
		if z.Geometry != "Point" || z.BufferM != 0 || !z.ValidFrom.IsZero() || !z.ValidUntil.IsZero() || z.Policy != (geofence.Policy{}) {
			return nil, fmt.Errorf("load covers: %w", &geofence.FeatureError{File: name, Feature: i,
				Reason: "a cover is a circle (a Point with radius_m) without buffer_m, window or policy"})
		}
	}
	return ix, nil
}
