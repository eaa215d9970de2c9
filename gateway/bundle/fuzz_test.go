package bundle_test

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"quietzone/gateway/bundle"
)

// FuzzParse: no input makes Parse panic, and what it accepts is
// canonical: signing the same content again gives the same bytes, when
// the key is the one that signed it.
func FuzzParse(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "good.qzb"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:200])
	f.Add([]byte(bundle.Magic + "\nkey 0000000000000000\nversion 1\n"))
	f.Add(sign(f, testKey(2), 1))
	keys := pinned(testKey(1), testKey(2))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := bundle.Parse(data)
		if err != nil {
			return
		}
		total := 0
		contents := map[string][]byte{}
		for _, fl := range b.Files {
			c, ok := b.File(fl.Name)
			if !ok || int64(len(c)) != fl.Size {
				t.Fatalf("file %s: %d bytes, manifest says %d", fl.Name, len(c), fl.Size)
			}
			contents[fl.Name] = c
			total += len(c)
		}
		if total > len(data) {
			t.Fatalf("%d bytes of files in a %d-byte bundle", total, len(data))
		}
		if b.Verify(keys) != nil {
			return
		}
		key := testKey(1)
		if b.KeyID != keys[0].ID {
			key = testKey(2)
		}
		again, err := bundle.Sign(key, b.Manifest, contents)
		if err != nil {
			t.Fatalf("a verified bundle does not sign again: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("a verified bundle is not canonical:\n%q\n%q", data, again)
		}
	})
}

// FuzzParseKeys: no key file makes ParsePublicKey or ParsePrivateKey
// panic, and a key either accepts is an ed25519 key that signs and
// verifies: a public key as its PEM again, a private key with the public
// half it claims.
func FuzzParseKeys(f *testing.F) {
	priv := testKey(7)
	privPEM, err := bundle.MarshalPrivateKey(priv)
	if err != nil {
		f.Fatal(err)
	}
	pubPEM, err := bundle.MarshalPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(privPEM)
	f.Add(pubPEM)
	f.Add(append(append([]byte(nil), pubPEM...), pubPEM...))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if pub, err := bundle.ParsePublicKey(data); err == nil {
			again, err := bundle.MarshalPublicKey(pub.Key)
			if err != nil || len(pub.Key) != ed25519.PublicKeySize || pub.ID != bundle.KeyID(pub.Key) {
				t.Fatalf("accepted public key %x (id %s) does not marshal again: %v", pub.Key, pub.ID, err)
			}
			if _, err := bundle.ParsePublicKey(again); err != nil {
				t.Fatalf("a marshalled key is refused: %v", err)
			}
		}
		if k, err := bundle.ParsePrivateKey(data); err == nil {
			msg := []byte("quietzone")
			if len(k) != ed25519.PrivateKeySize || !ed25519.Verify(k.Public().(ed25519.PublicKey), msg, ed25519.Sign(k, msg)) {
				t.Fatal("an accepted private key does not sign")
			}
		}
	})
}
