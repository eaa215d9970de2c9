package config

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// Identity is what enrolment gives one vehicle: its VIN, the pseudonym
// that names it on the wire, and its root secret, from which every key it
// keeps at rest is derived (Keys). The fleet writes it (`quietzone policy
// enrol`) into a file the vehicle's configuration names
// (vehicle.identity_file, mode 0600, provisioned beside the vehicle's TLS
// client key), and it holds nothing of any other vehicle: the fleet
// secret the pseudonyms are computed with never leaves the fleet. A
// stolen identity names one vehicle, which its thief already knows.
//
// The file, canonical (one way to write each identity):
//
//	quietzone-identity 1
//	vin 5YJSA1E26HF000001
//	pseudonym k3m2q7xw4fz5a6bd
//	root 5f0c…(64 lower-case hex digits)
type Identity struct {
	VIN       string
	Pseudonym string
	Root      []byte // atrest.KeyLen bytes
}

const identityMagic = "quietzone-identity 1"

// Labels of the keys derived from secrets (atrest.DeriveKey). Changing
// one makes every file sealed under it unreadable: a new label needs a
// migration.
const (
	labelRoot  = "quietzone/v1 vehicle root "
	labelQueue = "quietzone/v1 queue"
	labelFleet = "quietzone/v1 fleet"
	labelState = "quietzone/v1 state"
	labelAudit = "quietzone/v1 audit"
)

// MinFleetSecret is the shortest fleet pseudonym secret Enrol takes.
const MinFleetSecret = 16

var (
	vinPattern       = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)
	pseudonymPattern = regexp.MustCompile(`^[a-z2-7]{16}$`)
)

// NormalVIN is a VIN as the pseudonym is computed from it: without
// surrounding space, in upper case.
func NormalVIN(vin string) string { return strings.ToUpper(strings.TrimSpace(vin)) }

// Enrol derives a vehicle's identity from the fleet's pseudonym secret
// and its VIN: the pseudonym is uplink.Pseudonym (HMAC-SHA256 of the VIN),
// so a vehicle enrolled with the secret that was its fleet_key_file keeps
// its topics; the root is HKDF-SHA256 of the secret with the VIN in its
// label. The fleet can derive both again (to verify the vehicle's audit
// log); one vehicle's identity says nothing of another's.
func Enrol(fleetSecret []byte, vin string) (Identity, error) {
	vin = NormalVIN(vin)
	if !vinPattern.MatchString(vin) {
		return Identity{}, errors.New("enrol: the VIN must be 1 to 32 letters and digits")
	}
	if len(fleetSecret) < MinFleetSecret {
		return Identity{}, fmt.Errorf("enrol: the fleet secret is shorter than %d bytes", MinFleetSecret)
	}
	if err := atrest.RefuseSigningKey("", "fleet secret", fleetSecret); err != nil {
		return Identity{}, fmt.Errorf("enrol: %w", err)
	}
	return Identity{
		VIN:       vin,
		Pseudonym: uplink.Pseudonym(vin, fleetSecret),
		Root:      atrest.DeriveKey(fleetSecret, labelRoot+vin),
	}, nil
}

// Marshal writes the identity file.
func (id Identity) Marshal() []byte {
	return fmt.Appendf(nil, "%s\nvin %s\npseudonym %s\nroot %s\n", identityMagic, id.VIN, id.Pseudonym, hex.EncodeToString(id.Root))
}

// ParseIdentity reads an identity file; errors are "name:line: reason"
// and never quote the root.
func ParseIdentity(name string, data []byte) (Identity, error) {
	fail := func(line int, format string, args ...any) (Identity, error) {
		return Identity{}, &ConfigError{File: name, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	if err := atrest.RefuseSigningKey(name, "identity", data); err != nil {
		return fail(1, "%v", errors.Unwrap(err))
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) != 5 || lines[4] != "" {
		return fail(min(len(lines), 5), "want 4 lines, each ending in a newline: %s, vin, pseudonym, root", identityMagic)
	}
	if strings.Contains(string(data), "\r") {
		return fail(1, "lines end in \\r\\n: want \\n alone")
	}
	if lines[0] != identityMagic {
		if strings.HasPrefix(lines[0], "quietzone-identity ") {
			return fail(1, "an identity format this version does not read")
		}
		return fail(1, "not a quietzone identity (want %q)", identityMagic)
	}
	var id Identity
	field := func(line int, key string) (string, bool) {
		v, ok := strings.CutPrefix(lines[line-1], key+" ")
		return v, ok
	}
	var ok bool
	if id.VIN, ok = field(2, "vin"); !ok || !vinPattern.MatchString(id.VIN) {
		return fail(2, "want vin and 1 to 32 upper-case letters and digits")
	}
	if id.Pseudonym, ok = field(3, "pseudonym"); !ok || !pseudonymPattern.MatchString(id.Pseudonym) {
		return fail(3, "want pseudonym and 16 letters a-z and digits 2-7")
	}
	root, ok := field(4, "root")
	if !ok || len(root) != 2*atrest.KeyLen || !isLowerHex(root) {
		return fail(4, "want root and %d lower-case hex digits", 2*atrest.KeyLen)
	}
	id.Root, _ = hex.DecodeString(root)
	return id, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// LoadIdentity reads an identity file, which must be the daemon's alone.
func LoadIdentity(path string) (Identity, error) {
	data, err := atrest.Read(path, atrest.Secret.Named("identity"))
	if err != nil {
		return Identity{}, err
	}
	return ParseIdentity(path, data)
}

// Equal reports whether two identities are the same, in constant time
// for the root.
func (id Identity) Equal(o Identity) bool {
	return id.VIN == o.VIN && id.Pseudonym == o.Pseudonym && len(id.Root) == len(o.Root) &&
		subtle.ConstantTimeCompare(id.Root, o.Root) == 1
}

// Keys derives the vehicle's keys from its root.
func (id Identity) Keys() Keys { return DeriveKeys(id.Root) }

// Keys are a vehicle's keys at rest, one per purpose, each derived from
// its root secret (Identity.Root, or a key file on a vehicle without an
// identity) with HKDF-SHA256 under a label of its own: a key that leaks
// from one use opens nothing of another. The table, with the keys their
// owners derive again in turn:
//
//	key    label                    used for
//	Queue  quietzone/v1 queue       AES-256-GCM of the durable queue's batches
//	Fleet  quietzone/v1 fleet       the fleet state (Fleet): from it
//	         quietzone/v1 bundle store   AES-256-GCM of the stored bundle
//	         quietzone/v1 bundle floor   HMAC-SHA256 of the version floor
//	State  quietzone/v1 state       the suppression state (StateFile): from it
//	         quietzone/v1 state anchor   AES-256-GCM of the last trusted fix
//	         quietzone/v1 state mac      HMAC-SHA256 of the whole file
//	Audit  quietzone/v1 audit       HMAC-SHA256 of every audit entry
//
// A nil key means none: nothing sealed, the suppression state with a CRC
// only, the audit log with its hash chain only.
type Keys struct {
	Queue, Fleet, State, Audit []byte
	// OldQueue and OldStore are the raw keys earlier versions sealed the
	// queue and the stored bundle with (uplink.queue.key_file,
	// fleet.key_file): what they sealed is still read; nothing new is
	// sealed with them. Nil for none.
	OldQueue, OldStore []byte
}

// DeriveKeys derives the keys of a root secret; a nil root gives none.
func DeriveKeys(root []byte) Keys {
	if root == nil {
		return Keys{}
	}
	return Keys{
		Queue: atrest.DeriveKey(root, labelQueue),
		Fleet: atrest.DeriveKey(root, labelFleet),
		State: atrest.DeriveKey(root, labelState),
		Audit: atrest.DeriveKey(root, labelAudit),
	}
}

// loadRootKeyFile reads a vehicle root secret from a file: an identity,
// or a raw key (atrest.LoadKey). It is what `audit verify --key` takes.
func loadRootKeyFile(path string) ([]byte, error) {
	data, err := atrest.Read(path, atrest.Secret.Named("key"))
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte("quietzone-identity ")) {
		id, err := ParseIdentity(path, data)
		if err != nil {
			return nil, err
		}
		return id.Root, nil
	}
	return atrest.LoadKey(path, "key")
}

// AuditKey returns the key the audit log of the vehicle whose root
// secret is in path (an identity or a raw key file) is authenticated
// with: for `quietzone audit verify --key`.
func AuditKey(path string) ([]byte, error) {
	root, err := loadRootKeyFile(path)
	if err != nil {
		return nil, err
	}
	return DeriveKeys(root).Audit, nil
}
