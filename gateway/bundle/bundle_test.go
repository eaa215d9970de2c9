package bundle_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/gateway/bundle"
)

var golden = flag.Bool("golden", os.Getenv("GOLDEN") == "true", "rewrite testdata/*.qzb")

// testKey is a fixed key, so that signed test bundles are the same on
// every run (ed25519 signatures are deterministic).
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pinned(keys ...ed25519.PrivateKey) []bundle.PublicKey {
	var out []bundle.PublicKey
	for _, k := range keys {
		out = append(out, bundle.NewPublicKey(k.Public().(ed25519.PublicKey)))
	}
	return out
}

var (
	issued  = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	expires = issued.Add(30 * 24 * time.Hour)
	files   = map[string][]byte{
		"zones":  []byte(`{"type":"FeatureCollection","features":[]}` + "\n"),
		"policy": []byte("telemetry_period: 1s\n"),
	}
)

func sign(t testing.TB, key ed25519.PrivateKey, version uint64) []byte {
	t.Helper()
	b, err := bundle.Sign(key, bundle.Manifest{Version: version, Issued: issued, Expires: expires,
		Profiles: []string{"quietzone-reference"}}, files)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The bundle format is pinned by a golden file: a change to it is a
// change of format, which needs a new version line.
func TestGolden(t *testing.T) {
	got := sign(t, testKey(1), 7)
	path := filepath.Join("testdata", "good.qzb")
	if *golden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("signed bundle differs from %s (GOLDEN=true rewrites it):\n%s", path, got)
	}
	b, err := bundle.Open(want, pinned(testKey(1)))
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != 7 || !b.Issued.Equal(issued) || !b.Expires.Equal(expires) || len(b.Files) != 2 ||
		b.Files[0].Name != "policy" || b.Files[1].Name != "zones" || !b.ForProfile("quietzone-reference") || b.ForProfile("other") {
		t.Errorf("manifest %+v", b.Manifest)
	}
	for name, content := range files {
		if got, ok := b.File(name); !ok || !bytes.Equal(got, content) {
			t.Errorf("file %s: %q", name, got)
		}
	}
}

// Every way of altering, replacing or stripping a signed bundle is
// refused, with the kind of refusal the vehicle audits.
func TestRefused(t *testing.T) {
	good := sign(t, testKey(1), 7)
	other := sign(t, testKey(2), 7)
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q not in the bundle", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	sigLine := func(b []byte) string {
		i := bytes.Index(b, []byte("signature "))
		return string(b[i : i+bytes.IndexByte(b[i:], '\n')+1])
	}
	withoutSig := bytes.Replace(good, []byte(sigLine(good)), nil, 1)
	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 0x20
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"a body changed", flipped, bundle.ErrTampered},
		{"the version raised", replace("version 7\n", "version 8\n"), bundle.ErrTampered},
		{"the expiry moved", replace("expires 2026-07-01", "expires 2027-07-01"), bundle.ErrTampered},
		{"a profile changed", replace("profile quietzone-reference", "profile quietzone-referencf"), bundle.ErrTampered},
		{"another bundle's signature", bytes.Replace(good, []byte(sigLine(good)), []byte(sigLine(sign(t, testKey(1), 8))), 1), bundle.ErrTampered},
		{"signed by a key not pinned", other, bundle.ErrUnknownKey},
		{"no signature", withoutSig, bundle.ErrUnsigned},
		{"a bare zone file", files["zones"], bundle.ErrMalformed},
		{"empty", nil, bundle.ErrMalformed},
		{"a newer format", replace(bundle.Magic, "quietzone-bundle 2"), bundle.ErrMalformed},
		{"bytes after the last file", append(bytes.Clone(good), '\n'), bundle.ErrMalformed},
		{"cut short", good[:len(good)-1], bundle.ErrMalformed},
		{"CRLF", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), bundle.ErrMalformed},
		{"a leading zero", replace("version 7\n", "version 07\n"), bundle.ErrMalformed},
		{"version 0", replace("version 7\n", "version 0\n"), bundle.ErrMalformed},
		{"a time zone offset", replace("issued 2026-06-01T08:00:00Z", "issued 2026-06-01T10:00:00+02:00"), bundle.ErrMalformed},
		{"fractional seconds", replace("issued 2026-06-01T08:00:00Z", "issued 2026-06-01T08:00:00.5Z"), bundle.ErrMalformed},
		{"upper-case hex", []byte(strings.Replace(string(good), "key ", "key X", 1)), bundle.ErrMalformed},
		{"fields out of order", replace("version 7\nissued 2026-06-01T08:00:00Z\n", "issued 2026-06-01T08:00:00Z\nversion 7\n"), bundle.ErrMalformed},
		{"a field twice", replace("version 7\n", "version 7\nversion 7\n"), bundle.ErrMalformed},
		{"a padded signature", replace(sigLine(good), strings.TrimSuffix(sigLine(good), "\n")+" \n"), bundle.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := bundle.Open(tc.data, pinned(testKey(1)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, %v; want %v", b, err, tc.want)
			}
			if strings.Contains(err.Error(), "FeatureCollection") || strings.Contains(err.Error(), "telemetry_period") {
				t.Errorf("the error echoes the bundle's contents: %v", err)
			}
		})
	}
	// Two pinned keys: either may sign (a fleet rotating its key).
	if _, err := bundle.Open(other, pinned(testKey(1), testKey(2))); err != nil {
		t.Errorf("a bundle of the second pinned key: %v", err)
	}
}

func TestSignRefuses(t *testing.T) {
	key := testKey(1)
	for _, tc := range []struct {
		name  string
		m     bundle.Manifest
		files map[string][]byte
	}{
		{"version 0", bundle.Manifest{Issued: issued, Expires: expires}, files},
		{"expires before issued", bundle.Manifest{Version: 1, Issued: expires, Expires: issued}, files},
		{"no files", bundle.Manifest{Version: 1, Issued: issued, Expires: expires}, nil},
		{"a bad file name", bundle.Manifest{Version: 1, Issued: issued, Expires: expires}, map[string][]byte{"Zones": nil}},
		{"a bad profile", bundle.Manifest{Version: 1, Issued: issued, Expires: expires, Profiles: []string{"a b"}}, files},
		{"a profile twice", bundle.Manifest{Version: 1, Issued: issued, Expires: expires, Profiles: []string{"a", "a"}}, files},
	} {
		if _, err := bundle.Sign(key, tc.m, tc.files); err == nil {
			t.Errorf("%s: signed", tc.name)
		}
	}
	if _, err := bundle.Sign(key[:10], bundle.Manifest{Version: 1, Issued: issued, Expires: expires}, files); err == nil {
		t.Error("signed with a short key")
	}
}

func TestKeysPEM(t *testing.T) {
	dir := t.TempDir()
	priv, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := bundle.MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := bundle.MarshalPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	privPath, pubPath := filepath.Join(dir, "fleet.key"), filepath.Join(dir, "fleet.pub")
	if err := os.WriteFile(privPath, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubPath, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	gotPriv, err := bundle.LoadPrivateKey(privPath)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("private key: %v", err)
	}
	pub, err := bundle.LoadPublicKey(pubPath)
	if err != nil || !pub.Key.Equal(priv.Public()) || pub.ID != bundle.KeyID(pub.Key) || len(pub.ID) != 16 {
		t.Fatalf("public key %+v: %v", pub, err)
	}
	if err := os.Chmod(privPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.LoadPrivateKey(privPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a readable private key: %v", err)
	}
	for name, data := range map[string][]byte{
		"private as public": privPEM,
		"not PEM":           []byte("hello"),
		"two blocks":        append(bytes.Clone(pubPEM), pubPEM...),
	} {
		if _, err := bundle.ParsePublicKey(data); err == nil {
			t.Errorf("%s: parsed as a public key", name)
		}
	}
	if _, err := bundle.ParsePrivateKey(pubPEM); err == nil {
		t.Error("a public key parsed as a private key")
	}
}

// The signature is checked over the manifest before any body is hashed:
// a bundle of a key not pinned, or whose signature does not verify, is
// refused as such whatever its bodies hold, and a large body of a bundle
// that is not signed costs no hashing.
func TestOpenVerifiesBeforeHashing(t *testing.T) {
	good := sign(t, testKey(1), 7)
	bodyFlipped := func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)-3] ^= 0x20
		return b
	}
	if _, err := bundle.Open(bodyFlipped(sign(t, testKey(2), 7)), pinned(testKey(1))); !errors.Is(err, bundle.ErrUnknownKey) {
		t.Errorf("an unpinned key's bundle with a changed body: %v, want ErrUnknownKey", err)
	}
	sigOther := bytes.Replace(good, sigLineOf(good), sigLineOf(sign(t, testKey(1), 8)), 1)
	_, err := bundle.Open(bodyFlipped(sigOther), pinned(testKey(1)))
	if !errors.Is(err, bundle.ErrTampered) || !strings.Contains(err.Error(), "signature") {
		t.Errorf("another signature and a changed body: %v, want the signature refused", err)
	}
	// A body far larger than the manifest says is never hashed: the
	// refusal comes from the signature (here: unsigned by a pinned key).
	huge := append(sign(t, testKey(2), 7), make([]byte, 8<<20)...)
	if _, err := bundle.Open(huge, pinned(testKey(1))); !errors.Is(err, bundle.ErrUnknownKey) {
		t.Errorf("an unpinned bundle with 8 MiB appended: %v", err)
	}
}

func sigLineOf(b []byte) []byte {
	i := bytes.Index(b, []byte("signature "))
	return b[i : i+bytes.IndexByte(b[i:], '\n')+1]
}
