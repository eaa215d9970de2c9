// Package geofence holds the sensitive zones and answers where the vehicle
// is relative to them: inside a zone, within its buffer, or within a
// look-ahead distance of it, and how far the nearest zone is.
//
// Zones come from a GeoJSON FeatureCollection (RFC 7946): Polygon and
// MultiPolygon features, and Point features with a "radius_m" property
// (a circle). Each zone has a "buffer_m" around it. Geometry is computed
// with S2 (github.com/golang/geo) on a sphere of the Earth's mean radius;
// polygon edges are geodesics (great-circle arcs) between their vertices.
//
// The package knows nothing of CAN, cameras or clocks. Zone names are kept
// for configuration checks only: query results carry zone indices, so that
// names cannot reach logs or the uplink by accident.
package geofence
