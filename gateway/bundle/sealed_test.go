package bundle

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

func bodyKey(t testing.TB, b byte) *BodyKey {
	t.Helper()
	k, err := NewBodyKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A sealed body opens under the fleet's bundle key only; its files join
// the bundle's; a bundle without one needs no key.
func TestSealedBody(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub := NewPublicKey(priv.Public().(ed25519.PublicKey))
	k := bodyKey(t, 1)
	zones := []byte(`{"type":"FeatureCollection","features":[]}`)
	body, err := k.Seal(map[string][]byte{"zones": zones, "covers": []byte("c")})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(body, zones) {
		t.Fatal("the zones are readable in the sealed body")
	}
	sign := func(files map[string][]byte) *Bundle {
		data, err := Sign(priv, Manifest{Version: 1, Issued: time.Unix(1.8e9, 0), Expires: time.Unix(1.9e9, 0)}, files)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(data, []PublicKey{pub})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sealed := sign(map[string][]byte{"policy": []byte("p"), SealedName: body})
	damaged := append(bytes.Clone(body[:len(body)-1]), body[len(body)-1]^1)
	for _, tc := range []struct {
		name  string
		b     *Bundle
		key   *BodyKey
		err   error
		files []string
	}{
		{"sealed, the key", sealed, k, nil, []string{"covers", "policy", "zones"}},
		{"sealed, no key", sealed, nil, ErrNoBodyKey, nil},
		{"sealed, another fleet's key", sealed, bodyKey(t, 2), ErrSealedBody, nil},
		{"sealed, damaged", sign(map[string][]byte{"policy": []byte("p"), SealedName: damaged}), k, ErrSealedBody, nil},
		{"sealed, not a body", sign(map[string][]byte{"policy": []byte("p"), SealedName: []byte("zones")}), k, ErrSealedBody, nil},
		{"a name sealed and in the clear", sign(map[string][]byte{"zones": zones, SealedName: body}), k, ErrSealedBody, nil},
		{"old, unsealed, no key", sign(map[string][]byte{"policy": []byte("p"), "zones": zones}), nil, nil, []string{"policy", "zones"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := tc.b.Opened(tc.key)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if len(files) != len(tc.files) {
				t.Fatalf("files %v, want %v", files, tc.files)
			}
			for _, n := range tc.files {
				if _, ok := files[n]; !ok {
					t.Errorf("no file %s", n)
				}
			}
		})
	}
}

func FuzzOpenSealed(f *testing.F) {
	k := bodyKey(f, 1)
	body, _ := k.Seal(map[string][]byte{"zones": []byte("z")})
	f.Add(body)
	f.Add([]byte(sealedMagic + "12345678"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := k.Open(data)
		if err == nil && len(files) == 0 {
			t.Fatal("opened to nothing")
		}
	})
}
