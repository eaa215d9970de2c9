// Package zonemap is what the report's map and the boundary attack share:
// zones read from their GeoJSON into shapes (ParseShapes), a local plane
// in metres to measure and draw them in, the signed distance from a zone's
// edge, and SVG drawing (a document, a view, the zones with their
// buffers).
//
// It is an oracle of zone geometry for the bench, written apart from the
// geofence on purpose: it must never use the geofence's algorithms (only
// its Earth radius), so that what the bench measures does not inherit the
// gateway's mistakes.
package zonemap
