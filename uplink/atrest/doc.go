// Package atrest keeps the daemon's files safe at rest: files replaced
// whole or not at all (WriteFile), secrets only the daemon's user may
// read (OpenSecret, LoadKey), data sealed with AES-256-GCM under such a
// key (Sealer), and a lock that keeps a second process out of a state
// directory (Lock).
//
// The durable queue (uplink), the stored fleet bundle (gateway) and the
// audit log (audit) share these, so that each thing is done one way.
//
// What it is not for: choosing file formats, or key management beyond
// reading a key file. A key lives in a file (mode 0600, owned by the
// daemon's user) that an integrator provisions, for instance from a TPM
// with systemd's LoadCredentialEncrypted=.
package atrest
