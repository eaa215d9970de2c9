package uplink

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func testBatchPayload(t testing.TB, first uint64, n int) []byte {
	t.Helper()
	b, err := NewBatcher(BatchRule{MaxRecords: n, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		batch, full, err := b.Add(Record{Seq: first + uint64(i), Time: 1_780_000_000 + int64(i),
			Pos: []float64{52.5, 13.4}, Signals: map[string]float64{"vehicle.speed": 50}}, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if full {
			return batch.Payload
		}
	}
	t.Fatal("batch not full")
	return nil
}

func TestSealRoundTrip(t *testing.T) {
	k, err := GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	topic := Topic("abcdefghijklmnop", "telemetry")
	plain := testBatchPayload(t, 1, 5)
	sealed, err := k.Public().Seal(topic, plain)
	if err != nil {
		t.Fatal(err)
	}
	if !Sealed(sealed) || Sealed(plain) || bytes.Contains(sealed, plain[8:]) {
		t.Fatal("sealed payload not told from a plain one, or holds the plain bytes")
	}
	if got := len(sealed) - len(plain); got != 4+8+32+16 {
		t.Errorf("sealing adds %d bytes, want 60", got)
	}
	o := NewOpener(other, k)
	got, wasSealed, err := o.Open(topic, sealed)
	if err != nil || !wasSealed || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %d bytes, %v, %v; want the plain payload", len(got), wasSealed, err)
	}
	// Old payloads without sealing stay readable.
	if got, wasSealed, err := o.Open(topic, plain); err != nil || wasSealed || !bytes.Equal(got, plain) {
		t.Fatalf("plain payload: %v %v", wasSealed, err)
	}
	for _, tc := range []struct {
		name    string
		topic   string
		payload func() []byte
		opener  *Opener
		want    error
	}{
		{"other vehicle's topic", Topic("bbcdefghijklmnop", "telemetry"), func() []byte { return sealed }, o, ErrSealOpen},
		{"other kind", Topic("abcdefghijklmnop", "alarm"), func() []byte { return sealed }, o, ErrSealOpen},
		{"key not held", topic, func() []byte { return sealed }, NewOpener(other), ErrSealUnknownKey},
		{"no keys", topic, func() []byte { return sealed }, nil, ErrSealUnknownKey},
		{"flipped byte", topic, func() []byte { b := bytes.Clone(sealed); b[len(b)-20] ^= 1; return b }, o, ErrSealOpen},
		{"flipped enc", topic, func() []byte { b := bytes.Clone(sealed); b[14] ^= 1; return b }, o, ErrSealOpen},
		{"cut", topic, func() []byte { return sealed[:len(sealed)-1] }, o, ErrSealOpen},
		{"header only", topic, func() []byte { return sealed[:6] }, o, ErrSealOpen},
		{"no ciphertext", topic, func() []byte { return sealed[:12] }, o, ErrSealOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, wasSealed, err := tc.opener.Open(tc.topic, tc.payload())
			if !errors.Is(err, tc.want) || !wasSealed {
				t.Fatalf("Open = %v, sealed %v; want %v", err, wasSealed, tc.want)
			}
		})
	}
}

func TestSealKeyFiles(t *testing.T) {
	k, err := GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseOpenKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParseSealKey(k.Public().MarshalPEM())
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(k2.Public()) || pub.ID() != k.Public().ID() || len(pub.ID()) != 16 {
		t.Fatalf("keys read back differ: %s %s", pub.ID(), k2.Public().ID())
	}
	topic := Topic("abcdefghijklmnop", "audit")
	sealed, err := pub.Seal(topic, []byte(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := NewOpener(k2).Open(topic, sealed); err != nil || string(got) != `{"v":1}` {
		t.Fatalf("open with the key read back: %q %v", got, err)
	}
	for name, data := range map[string][]byte{
		"private as public": privPEM,
		"empty":             nil,
		"not PEM":           []byte("hello"),
		"two blocks":        append(k.Public().MarshalPEM(), k.Public().MarshalPEM()...),
		"short":             []byte("-----BEGIN QUIETZONE SEAL PUBLIC KEY-----\nAAAA\n-----END QUIETZONE SEAL PUBLIC KEY-----\n"),
		"unknown KEM":       []byte("-----BEGIN QUIETZONE SEAL PUBLIC KEY-----\n//8AAQADAAAA\n-----END QUIETZONE SEAL PUBLIC KEY-----\n"),
		"export only":       bytes.Replace(k.Public().MarshalPEM(), []byte("ACAAAQAD"), []byte("ACAAAf//"), 1),
	} {
		if _, err := ParseSealKey(data); !errors.Is(err, ErrSealKey) {
			t.Errorf("%s: ParseSealKey = %v, want ErrSealKey", name, err)
		}
	}
	if _, err := ParseOpenKey(k.Public().MarshalPEM()); !errors.Is(err, ErrSealKey) {
		t.Errorf("public as private: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	k, err := GenerateSealKey()
	if err != nil {
		f.Fatal(err)
	}
	topic := Topic("abcdefghijklmnop", "telemetry")
	plain := testBatchPayload(f, 1, 3)
	sealed, err := k.Public().Seal(topic, plain)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(plain)
	f.Add([]byte(sealMagic))
	f.Add(sealed[:20])
	o := NewOpener(k)
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, wasSealed, err := o.Open(topic, payload)
		if wasSealed != Sealed(payload) {
			t.Fatal("sealed says otherwise than Sealed")
		}
		if !wasSealed && (err != nil || !bytes.Equal(got, payload)) {
			t.Fatal("a plain payload must come back as it is")
		}
		if wasSealed && err == nil && !bytes.Equal(payload, sealed) {
			// Only the one sealed payload opens: anything else is a forgery.
			t.Fatalf("a changed sealed payload opened")
		}
	})
}
