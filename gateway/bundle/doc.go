// Package bundle reads, writes, signs and verifies fleet policy bundles:
// the zones and the uplink policy a fleet hands its vehicles, versioned,
// with an expiry, signed with ed25519.
//
// # Format (version 1)
//
// A bundle is one file: a signed text manifest, a signature line, then
// the bodies of the files the manifest lists, back to back, in its order.
//
//	quietzone-bundle 1
//	key 3f1c0a9be27d4410
//	version 42
//	issued 2026-06-01T08:00:00Z
//	expires 2026-07-01T08:00:00Z
//	profile quietzone-reference
//	file policy 182 9b0e…(64 hex digits: SHA-256 of the body)
//	file zones 48213 51c2…
//	signature kq3R…(base64 of 64 bytes)
//	<182 bytes of policy><48213 bytes of zones>
//
// The manifest is every byte before "signature"; the signature is
// ed25519 over exactly those bytes, by the key whose ID (the first 8
// bytes of SHA-256 of its raw 32-byte public key, in hex) the key line
// names. Its first line is the format and serves as the signature's
// domain: no other quietzone data starts with it.
//
// The encoding is canonical, so that one content has one manifest and
// a reader never has to decide what a variant means: lines end in "\n"
// alone; fields come in the order above, each once, except profile (0 to
// 16, sorted, distinct) and file (1 to 16, sorted by name, distinct);
// numbers are decimal without leading zeros; times are RFC 3339 in UTC to
// the second ("Z"); hex is lower-case; base64 is standard with padding.
// Anything else is refused, as are bytes after the last body.
//
// version orders a fleet's bundles: a vehicle applies a bundle only if
// its version is above the one it runs (no rollback). expires is when
// the bundle stops being valid; issued is when it was signed. profile
// names the vehicle profiles (their name:) the bundle is for; none means
// any. The files a vehicle expects today are "zones" (GeoJSON) and
// "policy" (the uplink policy, YAML); a name the reader does not know is
// the reader's to refuse. "sealed" (SealedName) carries files sealed
// under the fleet's bundle key (BodyKey): the zones and their covers, out
// of sight of whoever reads the bundle on its way (Bundle.Opened opens
// it; a sealed body that does not open is an error, never a bundle
// without zones).
//
// What the package does not do: judge time, versions or contents. Open
// checks that the bundle is whole, canonical and signed by a pinned key,
// and that every body matches its digest, in that order: the manifest
// (at most MaxHeaderLen bytes) is parsed and its signature verified
// before any body is hashed, so a bundle not signed by a pinned key costs
// one signature check however large it is. The gateway bounds a
// bundle's size before Open, and decides whether to apply it. Errors name the line and field at fault, never a value from
// the bundle, so they can go into logs.
//
// Keys are PEM: the private key PKCS #8 ("PRIVATE KEY", in a file only
// its owner may read), the public key PKIX ("PUBLIC KEY"), as openssl
// writes and reads them.
package bundle
