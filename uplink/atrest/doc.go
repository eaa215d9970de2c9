// Package atrest keeps the daemon's files safe at rest: one reader for
// every file the daemon reads (Read, Open: non-blocking, regular files
// only, bounded by the kind of file, a secret only if the daemon's user
// or root owns it and no one else may read or write it), files replaced
// whole or not at all (WriteFile), keys read from such secrets (LoadKey,
// which refuses a signing key), keys derived for one purpose each
// (DeriveKey, HKDF-SHA256), data sealed with AES-256-GCM under a key
// (Sealer), and a lock that keeps a second process out of a state
// directory (Lock).
//
// The durable queue (uplink), the stored fleet bundle (gateway) and the
// audit log (audit) share these, so that each thing is done one way.
//
// What it is not for: choosing file formats or labels (the gateway's
// Keys says which key derives from which, for what), or key management
// beyond reading and deriving keys. A key lives in a file (mode 0600, owned by the
// daemon's user) that an integrator provisions, for instance from a TPM
// with systemd's LoadCredentialEncrypted=.
package atrest
