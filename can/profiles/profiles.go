// Package profiles holds the vehicle profiles shipped inside the binary:
// a DBC file and the signal map that names its signals for the gateway.
// Configuration refers to them as "builtin:NAME".
//
// Profiles of real vehicles whose DBC we may not ship live in
// subdirectories (tesla/model-s.yaml) and are not embedded: they name their
// DBC by a path relative to the profile file and are loaded as files.
package profiles

import "embed"

// FS holds NAME.yaml (the signal map) and the DBC files they name.
//
//go:embed *.yaml *.dbc
var FS embed.FS

// Default is the name of the reference vehicle's profile.
const Default = "quietzone"
