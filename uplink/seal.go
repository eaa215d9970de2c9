package uplink

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// Sealing: what a vehicle publishes is sealed end to end to the fleet's
// public key with HPKE (RFC 9180, base mode, single shot), so that a
// broker run by someone else relays ciphertext it cannot read. The fleet's
// ingest holds the private key (uplink/ingest).
//
// A sealed payload is
//
//	"QZS\x01"  key ID (8 bytes)  enc ‖ ciphertext (hpke.Seal)
//
// where the key ID is the first 8 bytes of SHA-256 over the suite and the
// public key (SealKey.ID), so that a fleet holding several private keys
// (a rotation under way) knows which one opens it, and the HPKE info is
// "quietzone/v1 seal " followed by the MQTT topic: a payload moved to
// another vehicle's topic, or from the alarm topic to the telemetry one,
// does not open. What is sealed is the payload as it would go unsealed
// (a batch's zstd frame, a status record's or audit summary's JSON), so
// the formats inside stay what dict.go and fleetmsg.go say. An unsealed
// payload never starts with the magic: a zstd frame starts with
// 28 b5 2f fd, JSON with '{', the status words with a letter; old payloads
// without sealing therefore stay readable beside sealed ones.
//
// The suite is DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
// ChaCha20-Poly1305 (constant time and fast on head units without AES
// instructions): 32 bytes of enc and 16 of tag, 56 bytes with the header,
// on a batch of ~250. The suite is written into the key files, so a
// fleet can move to another (e.g. a post-quantum hybrid KEM, at 1,120
// bytes of enc per payload) by rotating keys, without a new format.
//
// Rotation: the vehicle's configuration pins the first key
// (uplink.fleet_public_key); a signed bundle that carries a file
// "seal.pub" replaces it (gateway.Fleet), from the next publish on,
// batches already queued included. The fleet keeps the old private key
// until every vehicle confirmed the bundle.

// sealMagic starts every sealed payload.
const sealMagic = "QZS\x01"

// SealKeyIDLen is the length of a sealing key's ID.
const SealKeyIDLen = 8

const (
	sealInfo       = "quietzone/v1 seal "
	sealPublicPEM  = "QUIETZONE SEAL PUBLIC KEY"
	sealPrivatePEM = "QUIETZONE SEAL PRIVATE KEY"
)

// Suite IDs of RFC 9180.
const (
	kemX25519        = 0x0020
	kdfHKDFSHA256    = 0x0001
	aeadChaCha20Poly = 0x0003
)

// Errors of sealed payloads.
var (
	// ErrSealKey: a key file that is not a sealing key.
	ErrSealKey = errors.New("not a quietzone sealing key")
	// ErrSealUnknownKey: sealed to a key the fleet does not hold.
	ErrSealUnknownKey = errors.New("sealed to a key this fleet does not hold")
	// ErrSealOpen: the payload does not open under its key (damaged,
	// forged, or moved from another topic).
	ErrSealOpen = errors.New("sealed payload does not open")
)

// suite is an HPKE ciphersuite.
type suite struct {
	kem  hpke.KEM
	kdf  hpke.KDF
	aead hpke.AEAD
}

func (s suite) ids() [6]byte {
	var b [6]byte
	binary.BigEndian.PutUint16(b[0:], s.kem.ID())
	binary.BigEndian.PutUint16(b[2:], s.kdf.ID())
	binary.BigEndian.PutUint16(b[4:], s.aead.ID())
	return b
}

func parseSuite(b []byte) (suite, []byte, error) {
	if len(b) < 6 {
		return suite{}, nil, fmt.Errorf("%w: too short", ErrSealKey)
	}
	kem, err := hpke.NewKEM(binary.BigEndian.Uint16(b[0:]))
	if err != nil {
		return suite{}, nil, fmt.Errorf("%w: %w", ErrSealKey, err)
	}
	kdf, err := hpke.NewKDF(binary.BigEndian.Uint16(b[2:]))
	if err != nil {
		return suite{}, nil, fmt.Errorf("%w: %w", ErrSealKey, err)
	}
	aead, err := hpke.NewAEAD(binary.BigEndian.Uint16(b[4:]))
	if err != nil {
		return suite{}, nil, fmt.Errorf("%w: %w", ErrSealKey, err)
	}
	if aead.ID() == 0xffff { // export-only: cannot seal
		return suite{}, nil, fmt.Errorf("%w: an export-only AEAD", ErrSealKey)
	}
	return suite{kem, kdf, aead}, b[6:], nil
}

// SealKey is the fleet's public sealing key, as a vehicle pins it.
type SealKey struct {
	s   suite
	pub hpke.PublicKey
	id  [SealKeyIDLen]byte
}

func newSealKey(s suite, pub hpke.PublicKey) *SealKey {
	k := &SealKey{s: s, pub: pub}
	ids := s.ids()
	h := sha256.New()
	h.Write(ids[:])
	h.Write(pub.Bytes())
	copy(k.id[:], h.Sum(nil))
	return k
}

// ParseSealKey reads a public sealing key (PEM, "QUIETZONE SEAL PUBLIC
// KEY": the suite's three IDs and the serialized public key).
func ParseSealKey(data []byte) (*SealKey, error) {
	blk, rest := pem.Decode(data)
	if blk == nil || blk.Type != sealPublicPEM || len(bytes.TrimSpace(rest)) != 0 || len(blk.Headers) != 0 {
		return nil, fmt.Errorf("%w: want one PEM block %q", ErrSealKey, sealPublicPEM)
	}
	s, raw, err := parseSuite(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, err := s.kem.NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSealKey, err)
	}
	return newSealKey(s, pub), nil
}

// MarshalPEM writes the key as ParseSealKey reads it.
func (k *SealKey) MarshalPEM() []byte {
	ids := k.s.ids()
	return pem.EncodeToMemory(&pem.Block{Type: sealPublicPEM, Bytes: append(ids[:], k.pub.Bytes()...)})
}

// ID names the key in sealed payloads, in hex.
func (k *SealKey) ID() string { return hex.EncodeToString(k.id[:]) }

// Equal reports whether two keys are the same.
func (k *SealKey) Equal(o *SealKey) bool { return k != nil && o != nil && k.id == o.id }

// Seal seals a payload for the topic it is published on.
func (k *SealKey) Seal(topic string, payload []byte) ([]byte, error) {
	ct, err := hpke.Seal(k.pub, k.s.kdf, k.s.aead, []byte(sealInfo+topic), payload)
	if err != nil {
		return nil, fmt.Errorf("seal payload: %w", err)
	}
	out := make([]byte, 0, len(sealMagic)+SealKeyIDLen+len(ct))
	out = append(append(append(out, sealMagic...), k.id[:]...), ct...)
	return out, nil
}

// OpenKey is a private sealing key: the fleet's.
type OpenKey struct {
	s    suite
	priv hpke.PrivateKey
	pub  *SealKey
}

// GenerateSealKey makes a new key pair in the default suite.
func GenerateSealKey() (*OpenKey, error) {
	s := suite{hpke.DHKEM(ecdh.X25519()), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()}
	priv, err := s.kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate sealing key: %w", err)
	}
	return &OpenKey{s: s, priv: priv, pub: newSealKey(s, priv.PublicKey())}, nil
}

// ParseOpenKey reads a private sealing key (PEM, "QUIETZONE SEAL PRIVATE
// KEY").
func ParseOpenKey(data []byte) (*OpenKey, error) {
	blk, rest := pem.Decode(data)
	if blk == nil || blk.Type != sealPrivatePEM || len(bytes.TrimSpace(rest)) != 0 || len(blk.Headers) != 0 {
		return nil, fmt.Errorf("%w: want one PEM block %q", ErrSealKey, sealPrivatePEM)
	}
	s, raw, err := parseSuite(blk.Bytes)
	if err != nil {
		return nil, err
	}
	priv, err := s.kem.NewPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSealKey, err)
	}
	return &OpenKey{s: s, priv: priv, pub: newSealKey(s, priv.PublicKey())}, nil
}

// MarshalPEM writes the private key as ParseOpenKey reads it.
func (k *OpenKey) MarshalPEM() ([]byte, error) {
	raw, err := k.priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("marshal sealing key: %w", err)
	}
	ids := k.s.ids()
	return pem.EncodeToMemory(&pem.Block{Type: sealPrivatePEM, Bytes: append(ids[:], raw...)}), nil
}

// Public returns the public half, for the vehicles.
func (k *OpenKey) Public() *SealKey { return k.pub }

// Sealed reports whether a payload is sealed.
func Sealed(payload []byte) bool { return bytes.HasPrefix(payload, []byte(sealMagic)) }

// Opener opens sealed payloads with the fleet's private keys. It is safe
// for concurrent use.
type Opener struct {
	keys map[[SealKeyIDLen]byte]*OpenKey
}

// NewOpener returns an Opener holding keys.
func NewOpener(keys ...*OpenKey) *Opener {
	o := &Opener{keys: make(map[[SealKeyIDLen]byte]*OpenKey, len(keys))}
	for _, k := range keys {
		o.keys[k.pub.id] = k
	}
	return o
}

// Len returns how many keys the Opener holds.
func (o *Opener) Len() int { return len(o.keys) }

// Open returns a payload's contents: the payload itself when it is not
// sealed (sealed false), else what it opens to under the key it names,
// for the topic it came on. The error wraps ErrSealUnknownKey or
// ErrSealOpen.
func (o *Opener) Open(topic string, payload []byte) (plain []byte, sealed bool, err error) {
	if !Sealed(payload) {
		return payload, false, nil
	}
	rest := payload[len(sealMagic):]
	if len(rest) < SealKeyIDLen {
		return nil, true, fmt.Errorf("%w: shorter than its header", ErrSealOpen)
	}
	var id [SealKeyIDLen]byte
	copy(id[:], rest)
	var k *OpenKey
	if o != nil {
		k = o.keys[id]
	}
	if k == nil {
		return nil, true, fmt.Errorf("%w: key %x", ErrSealUnknownKey, id)
	}
	plain, err = hpke.Open(k.priv, k.s.kdf, k.s.aead, []byte(sealInfo+topic), rest[SealKeyIDLen:])
	if err != nil {
		return nil, true, fmt.Errorf("%w: key %x", ErrSealOpen, id)
	}
	return plain, true, nil
}
