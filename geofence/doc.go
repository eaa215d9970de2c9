// Package geofence holds the sensitive zones and answers where the vehicle
// is relative to them: inside a zone, within its buffer, within reach of
// its look-ahead, whether the path between two fixes crossed one, and how
// far the nearest zone is.
//
// # Zones
//
// Zones come from a GeoJSON FeatureCollection (RFC 7946): Polygon and
// MultiPolygon features (with holes; the parts of a MultiPolygon are a
// union, even where they overlap), Point features with "radius_m" (a
// circle) and LineString features with "width_m" (a corridor: everything
// within half the width of the line). Each zone may have "id", "name",
// "class", "buffer_m" (the margin around it that counts as near),
// "valid_from" and "valid_until" (RFC 3339; a window, both ends included)
// and "policy", an object of overrides that can only make the gateway
// stricter near the zone: "lookahead_s" (seconds added to the look-ahead
// horizon), "clear_fixes" (clear fixes needed to leave suppression after
// it) and "withhold_m" (metres added to where the position is withheld).
// A file with any invalid feature is refused whole; errors name the
// feature by its index, never by name or coordinates, as errors are
// logged.
//
// # Geometry
//
// S2 (github.com/golang/geo) validates zones and defines their edges:
// geodesics (great-circle arcs) between the vertices, on a sphere of the
// Earth's mean radius. For queries each part of a zone is kept in its own
// gnomonic projection, where geodesics are straight lines: containment is
// exact there, and planar distances, scaled by cos²θ (θ the angle from the
// part's centre), are lower bounds of the distances on the sphere, short
// by a relative θ² at most (2.5·10⁻⁷ within 3 km of a part's centre,
// 2.5·10⁻⁴ at 100 km). Circles are measured on the sphere. Zones reach at
// most 1000 km from their centre.
//
// # Index
//
// The index is a table of S2 cells, sorted by id: each lists the parts of
// zones that matter anywhere in it, with the chunks of edges within the
// table's reach (Options.ReachM) of the cell, a lower bound of the zone's
// margin there, and whether a reference point is inside. A query finds
// its cell by binary search and looks at those edges only, and allocates
// nothing. Questions that look farther than the table's reach are
// answered by a scan of every zone: right, only slower.
//
// # Queries
//
// Query locates a point. Assess locates a fix with its accuracy and the
// vehicle's motion: a directional look-ahead over the places the vehicle
// can reach before a camera has stopped (Kinematics), the exit margin of
// the gateway's hysteresis and the distance within which its position is
// withheld. Crossed checks the path between two fixes. Whatever cannot be
// a position, or comes with a nonsensical accuracy or threshold, is
// answered as inside a zone.
//
// Validity windows are applied at the time given with a fix (Fix.At, or
// the span from Fix.At to Fix.Through), widened by Fix.Skew; the zero
// time means the clock is not trusted and every zone counts. The package never reads a clock, and knows nothing
// of CAN, cameras or the uplink. Zone names are kept for configuration
// checks only: query results carry zone indices, so that names cannot
// reach logs or the uplink by accident.
package geofence
