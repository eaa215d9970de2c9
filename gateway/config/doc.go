// Package config reads what the vehicle daemon is told: the configuration
// file (vehicle, zones, policy, cameras, enforcement, decision, uplink,
// queue, fleet), the vehicle profile (a DBC and its signal map, with a
// class for every role), the uplink policy checked against that profile,
// and the vehicle's identity and keys. Load returns a Setup with all of it
// built; every problem is "file:line: reason" (ConfigError), and there is
// no permissive fallback: a file that does not parse is refused whole.
//
// YAML is read strictly (DecodeYAML: unknown keys, wrong types and
// fractions where a whole number is wanted are errors at their line).
// Every file goes through atrest.Read: bounded, never a FIFO or a device,
// and a secret only if it is the daemon's alone (mode 0600 or stricter,
// owned by the daemon's user or root). The vehicle is named on the wire by the
// pseudonym of its identity, provisioned at enrolment with a root secret
// of its own; no fleet-wide secret is on the vehicle. Its keys at rest
// (queue, fleet state, suppression state, audit) are derived from the
// root, one per purpose (Keys).
//
// What may leave is decided by meaning, not by spelling: LoadProfile
// refuses roles in another spelling, a DBC signal under two roles,
// undeclared or misdeclared classes and custom vehicle data in a message
// with location or personal data; ParsePolicyFor lets a policy name
// vehicle-class roles alone, for local files and fleet bundles alike.
//
// It never knows the decision loop's internals, sockets or the wire: it
// builds the gateway's options and checks, nothing runs here.
package config
