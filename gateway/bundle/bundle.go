package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Magic is the first line of a version 1 bundle, without its newline.
const Magic = "quietzone-bundle 1"

// Limits of a manifest.
const (
	MaxFiles       = 16
	MaxProfiles    = 16
	maxManifestLen = 16 << 10
	// MaxHeaderLen bounds what of a bundle is read before its signature
	// is verified: the manifest and the signature line lie within it.
	MaxHeaderLen = maxManifestLen + 64
)

// Manifest is what a bundle says of itself; every field is signed.
type Manifest struct {
	// KeyID names the key that signed the bundle (KeyID).
	KeyID string
	// Version orders a fleet's bundles; at least 1.
	Version uint64
	// Issued is when the bundle was signed; Expires when it stops being
	// valid. Both are in UTC, to the second.
	Issued, Expires time.Time
	// Profiles are the vehicle profile names the bundle is for; empty
	// means any.
	Profiles []string
	// Files are the bodies the bundle carries, sorted by name.
	Files []File
}

// File is one body of a bundle.
type File struct {
	Name   string
	Size   int64
	SHA256 [sha256.Size]byte
}

// Bundle is a parsed bundle.
type Bundle struct {
	Manifest
	// Digest is SHA-256 of the whole bundle: two deliveries with the
	// same Digest are the same bundle, to the byte. It is computed with
	// the bodies' digests (Parse, Open), never before the signature is
	// verified (Open).
	Digest   [sha256.Size]byte
	data     []byte // the whole bundle
	signed   []byte // the manifest's bytes
	sig      []byte
	body     []byte // after the signature line
	contents map[string][]byte
}

// The ways a bundle is refused. Errors wrap one of them, with the line
// and field at fault.
var (
	// ErrMalformed: not a well-formed, canonical version 1 bundle.
	ErrMalformed = errors.New("malformed bundle")
	// ErrUnsigned: no signature line.
	ErrUnsigned = errors.New("unsigned bundle")
	// ErrUnknownKey: signed by a key the reader does not pin.
	ErrUnknownKey = errors.New("bundle signed by a key that is not pinned")
	// ErrTampered: the signature does not verify, or a body does not
	// match its digest.
	ErrTampered = errors.New("bundle altered since it was signed")
)

var (
	namePattern    = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)
	profilePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)
)

// ValidName reports whether name may name a body.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// Sign builds and signs a bundle of files (by name) with priv; m gives
// the version, times and profiles (its KeyID and Files are filled in).
// It refuses what a reader would refuse.
func Sign(priv ed25519.PrivateKey, m Manifest, files map[string][]byte) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("sign bundle: not an ed25519 private key")
	}
	m.KeyID = KeyID(priv.Public().(ed25519.PublicKey))
	m.Issued, m.Expires = m.Issued.UTC().Truncate(time.Second), m.Expires.UTC().Truncate(time.Second)
	m.Profiles = slices.Clone(m.Profiles)
	slices.Sort(m.Profiles)
	m.Files = m.Files[:0:0]
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m.Files = append(m.Files, File{Name: name, Size: int64(len(files[name])), SHA256: sha256.Sum256(files[name])})
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	manifest := m.encode()
	var out bytes.Buffer
	out.Write(manifest)
	out.WriteString("signature ")
	out.WriteString(base64.StdEncoding.EncodeToString(ed25519.Sign(priv, manifest)))
	out.WriteByte('\n')
	for _, name := range names {
		out.Write(files[name])
	}
	return out.Bytes(), nil
}

// check holds the manifest's rules that are not about syntax.
func (m *Manifest) check() error {
	switch {
	case m.Version < 1 || m.Version > 1<<63-1:
		return fmt.Errorf("%w: version must be from 1 to 2^63-1", ErrMalformed)
	case !m.Expires.After(m.Issued):
		return fmt.Errorf("%w: expires must be after issued", ErrMalformed)
	case m.Issued.Year() < 2000 || m.Expires.Year() > 9999:
		return fmt.Errorf("%w: times must be from the year 2000 to 9999", ErrMalformed)
	case len(m.Files) < 1 || len(m.Files) > MaxFiles:
		return fmt.Errorf("%w: 1 to %d files", ErrMalformed, MaxFiles)
	case len(m.Profiles) > MaxProfiles:
		return fmt.Errorf("%w: at most %d profiles", ErrMalformed, MaxProfiles)
	}
	for i, p := range m.Profiles {
		if !profilePattern.MatchString(p) {
			return fmt.Errorf("%w: profile %d: want letters, digits and ._:/- (up to 128)", ErrMalformed, i+1)
		}
		if i > 0 && p <= m.Profiles[i-1] {
			return fmt.Errorf("%w: profile %d: profiles must be sorted and distinct", ErrMalformed, i+1)
		}
	}
	for i, f := range m.Files {
		if !ValidName(f.Name) {
			return fmt.Errorf("%w: file %d: name must be lower-case letters, digits and ._- (up to 64)", ErrMalformed, i+1)
		}
		if i > 0 && f.Name <= m.Files[i-1].Name {
			return fmt.Errorf("%w: file %d: files must be sorted by name and distinct", ErrMalformed, i+1)
		}
	}
	return nil
}

func (m *Manifest) encode() []byte {
	var b strings.Builder
	b.WriteString(Magic + "\n")
	fmt.Fprintf(&b, "key %s\n", m.KeyID)
	fmt.Fprintf(&b, "version %d\n", m.Version)
	fmt.Fprintf(&b, "issued %s\n", m.Issued.Format(time.RFC3339))
	fmt.Fprintf(&b, "expires %s\n", m.Expires.Format(time.RFC3339))
	for _, p := range m.Profiles {
		fmt.Fprintf(&b, "profile %s\n", p)
	}
	for _, f := range m.Files {
		fmt.Fprintf(&b, "file %s %d %s\n", f.Name, f.Size, hex.EncodeToString(f.SHA256[:]))
	}
	return []byte(b.String())
}

// Parse reads a bundle's structure and checks every body against its
// digest; it does not check the signature (Open does, first).
func Parse(data []byte) (*Bundle, error) {
	b, err := ParseManifest(data)
	if err != nil {
		return nil, err
	}
	if err := b.CheckBodies(); err != nil {
		return nil, err
	}
	return b, nil
}

// ParseManifest reads a bundle's manifest and signature line, never more
// than MaxHeaderLen bytes of it, whatever its size: the bodies are not
// read, hashed or checked (Verify, then Open's check of the bodies).
func ParseManifest(data []byte) (*Bundle, error) {
	if !bytes.HasPrefix(data, []byte(Magic+"\n")) {
		if bytes.HasPrefix(data, []byte("quietzone-bundle ")) {
			return nil, fmt.Errorf("%w: line 1: a bundle format this version does not read", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: line 1: not a quietzone bundle", ErrMalformed)
	}
	b := &Bundle{data: data}
	p := lineReader{data: data}
	p.next() // the magic
	var err error
	if b.KeyID, err = field(&p, "key", func(v string) (string, error) {
		if len(v) != 16 || !isLowerHex(v) {
			return "", errors.New("want 16 lower-case hex digits")
		}
		return v, nil
	}); err != nil {
		return nil, err
	}
	if b.Version, err = field(&p, "version", func(v string) (uint64, error) { return parseUint(v, 1<<63-1) }); err != nil {
		return nil, err
	}
	if b.Issued, err = field(&p, "issued", parseTime); err != nil {
		return nil, err
	}
	if b.Expires, err = field(&p, "expires", parseTime); err != nil {
		return nil, err
	}
	for p.peek("profile") {
		v, err := field(&p, "profile", func(v string) (string, error) { return v, nil })
		if err != nil {
			return nil, err
		}
		b.Profiles = append(b.Profiles, v)
	}
	for p.peek("file") {
		f, err := field(&p, "file", parseFile)
		if err != nil {
			return nil, err
		}
		b.Files = append(b.Files, f)
	}
	if err := b.Manifest.check(); err != nil {
		return nil, fmt.Errorf("%w (line %d)", err, p.line)
	}
	b.signed = data[:p.off]
	if !p.peek("signature") {
		return nil, fmt.Errorf("%w: line %d: no signature after the files", ErrUnsigned, p.line+1)
	}
	if b.sig, err = field(&p, "signature", func(v string) ([]byte, error) {
		s, err := base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || len(s) != ed25519.SignatureSize || base64.StdEncoding.EncodeToString(s) != v {
			return nil, errors.New("want the base64 of 64 bytes")
		}
		return s, nil
	}); err != nil {
		return nil, err
	}
	b.body = p.rest()
	return b, nil
}

// CheckBodies checks every body against its digest and the bundle's
// length, and takes the bundle's Digest. Open calls it once the signature
// verified; a reader that calls ParseManifest and Verify itself calls it
// after them.
func (b *Bundle) CheckBodies() error {
	body := b.body
	var total int64
	for _, f := range b.Files {
		total += f.Size
	}
	if int64(len(body)) != total { // before hashing anything
		if int64(len(body)) < total {
			return fmt.Errorf("%w: the bundle ends %d bytes short of its files", ErrMalformed, total-int64(len(body)))
		}
		return fmt.Errorf("%w: %d bytes after the last file", ErrMalformed, int64(len(body))-total)
	}
	b.contents = make(map[string][]byte, len(b.Files))
	for _, f := range b.Files {
		content := body[:f.Size:f.Size]
		body = body[f.Size:]
		if sha256.Sum256(content) != f.SHA256 {
			b.contents = nil
			return fmt.Errorf("%w: file %s does not match its digest", ErrTampered, f.Name)
		}
		b.contents[f.Name] = content
	}
	b.Digest = sha256.Sum256(b.data)
	return nil
}

// Verify checks the signature with the pinned key the manifest names.
func (b *Bundle) Verify(keys []PublicKey) error {
	for _, k := range keys {
		if k.ID != b.KeyID {
			continue
		}
		if !ed25519.Verify(k.Key, b.signed, b.sig) {
			return fmt.Errorf("%w: the signature does not verify", ErrTampered)
		}
		return nil
	}
	return fmt.Errorf("%w (key %s)", ErrUnknownKey, b.KeyID)
}

// Open parses a bundle's manifest, verifies its signature with one of
// keys, and only then checks its bodies against their digests: a bundle
// that is not signed by a pinned key costs the reading of its manifest
// and one signature check, however large it is.
func Open(data []byte, keys []PublicKey) (*Bundle, error) {
	b, err := ParseManifest(data)
	if err != nil {
		return nil, err
	}
	if err := b.Verify(keys); err != nil {
		return nil, err
	}
	if err := b.CheckBodies(); err != nil {
		return nil, err
	}
	return b, nil
}

// File returns the body called name. The slice is the bundle's: do not
// change it.
func (b *Bundle) File(name string) ([]byte, bool) {
	c, ok := b.contents[name]
	return c, ok
}

// ForProfile reports whether the bundle is for a vehicle running the
// named profile.
func (b *Bundle) ForProfile(name string) bool {
	return len(b.Profiles) == 0 || slices.Contains(b.Profiles, name)
}

// lineReader walks the manifest a line at a time.
type lineReader struct {
	data []byte
	off  int
	line int // of the last line read
}

func (p *lineReader) rest() []byte { return p.data[p.off:] }

// next returns the next line without its newline; ok is false at the end
// of the data or when the line has no newline within the manifest limit.
func (p *lineReader) next() (string, bool) {
	rest := p.data[p.off:min(len(p.data), maxManifestLen)]
	if p.off >= maxManifestLen {
		rest = nil
	}
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return "", false
	}
	p.off += i + 1
	p.line++
	return string(rest[:i]), true
}

// peek reports whether the next line starts with key and a space.
func (p *lineReader) peek(key string) bool {
	return bytes.HasPrefix(p.rest(), []byte(key+" "))
}

// fieldLine reads the line "key value" and returns value.
func (p *lineReader) fieldLine(key string) (string, error) {
	n := p.line + 1
	l, ok := p.next()
	if !ok {
		return "", fmt.Errorf("%w: line %d: want %s, found the end of the manifest", ErrMalformed, n, key)
	}
	v, found := strings.CutPrefix(l, key+" ")
	if !found {
		return "", fmt.Errorf("%w: line %d: want %s", ErrMalformed, n, key)
	}
	return v, nil
}

// field reads the line "key value" and parses value (a function, not a
// method, so that it can be generic).
func field[T any](p *lineReader, key string, parse func(string) (T, error)) (T, error) {
	var zero T
	v, err := p.fieldLine(key)
	if err != nil {
		return zero, err
	}
	t, err := parse(v)
	if err != nil {
		return zero, fmt.Errorf("%w: line %d: %s: %v", ErrMalformed, p.line, key, err)
	}
	return t, nil
}

func parseUint(v string, maxV uint64) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > maxV || strconv.FormatUint(n, 10) != v {
		return 0, fmt.Errorf("want a decimal number up to %d without leading zeros", maxV)
	}
	return n, nil
}

func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || t.UTC().Format(time.RFC3339) != v {
		return time.Time{}, errors.New("want an RFC 3339 time in UTC to the second, such as 2026-06-01T08:00:00Z")
	}
	return t.UTC(), nil
}

func parseFile(v string) (File, error) {
	parts := strings.Split(v, " ")
	if len(parts) != 3 {
		return File{}, errors.New("want NAME SIZE SHA256")
	}
	size, err := parseUint(parts[1], 1<<40)
	if err != nil {
		return File{}, fmt.Errorf("size: %v", err)
	}
	f := File{Name: parts[0], Size: int64(size)}
	if len(parts[2]) != 2*sha256.Size || !isLowerHex(parts[2]) {
		return File{}, errors.New("digest: want 64 lower-case hex digits")
	}
	hex.Decode(f.SHA256[:], []byte(parts[2]))
	return f, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
