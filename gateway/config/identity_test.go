package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"testing"

	"quietzone/gateway/bundle"
	"quietzone/uplink/atrest"
)

func enrol(t testing.TB, vin string) config.Identity {
	t.Helper()
	id, err := config.Enrol([]byte("test-fleet-key-0123456789abcdef\n"), vin)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIdentityRoundTrip(t *testing.T) {
	id := enrol(t, " qztest00000000042 ")
	if id.VIN != "QZTEST00000000042" || len(id.Root) != atrest.KeyLen {
		t.Fatalf("identity %s %s %x", id.VIN, id.Pseudonym, id.Root)
	}
	back, err := config.ParseIdentity("id", id.Marshal())
	if err != nil || !back.Equal(id) {
		t.Fatalf("parsed %+v, %v", back, err)
	}
	keys := id.Keys()
	all := [][]byte{id.Root, keys.Queue, keys.Fleet, keys.State, keys.Audit}
	for i := range all {
		for j := range i {
			if bytes.Equal(all[i], all[j]) {
				t.Errorf("keys %d and %d are equal", i, j)
			}
		}
	}
	if _, err := config.Enrol([]byte("short"), "QZTEST00000000042"); err == nil {
		t.Error("a 5-byte fleet secret accepted")
	}
	if _, err := config.Enrol([]byte("test-fleet-key-0123456789abcdef"), "QZ-TEST 42"); err == nil {
		t.Error("a VIN with a dash and a space accepted")
	}
}

// An identity file is read strictly: one way to write each identity,
// and a signing key in its place is named as such.
func TestParseIdentityRefuses(t *testing.T) {
	good := string(enrol(t, "QZTEST00000000042").Marshal())
	priv, _ := bundle.GenerateKey()
	signing, _ := bundle.MarshalPrivateKey(priv)
	for name, tc := range map[string]struct{ data, want string }{
		"empty":          {"", "id:1: want 4 lines"},
		"no newline":     {strings.TrimSuffix(good, "\n"), "id:4: want 4 lines"},
		"CRLF":           {strings.ReplaceAll(good, "\n", "\r\n"), "id:1: lines end in"},
		"newer format":   {strings.Replace(good, "identity 1", "identity 2", 1), "id:1: an identity format this version does not read"},
		"lower-case VIN": {strings.Replace(good, "vin QZTEST", "vin qztest", 1), "id:2: "},
		"bad pseudonym":  {strings.Replace(good, "pseudonym ", "pseudonym 1", 1), "id:3: "},
		"short root":     {strings.Replace(good, "root ", "root 0", 1)[:len(good)-2] + "\n", "id:4: "},
		"upper-case hex": {strings.Replace(good, "root ", "root A", 1)[:len(good)] + "\n", "id:4: "},
		"a signing key":  {string(signing), "id:1: a PEM private key (a signing key"},
	} {
		_, err := config.ParseIdentity("id", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(good, "root ") && strings.Contains(err.Error(), good[strings.Index(good, "root ")+5:][:16]) {
			t.Errorf("%s: the error quotes the root: %v", name, err)
		}
	}
}

// FuzzParseIdentity: no input panics, and what is accepted writes back to
// the same bytes (canonical).
func FuzzParseIdentity(f *testing.F) {
	f.Add(enrol(f, "QZTEST00000000042").Marshal())
	f.Add([]byte("quietzone-identity 1\nvin X\npseudonym aaaaaaaaaaaaaaaa\nroot 00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := config.ParseIdentity("fuzz", data)
		if err != nil {
			return
		}
		if !bytes.Equal(id.Marshal(), data) {
			t.Fatalf("accepted %q, which writes back as %q", data, id.Marshal())
		}
	})
}

// The vehicle's configuration names its identity: the pseudonym and keys
// come from it, the VIN must agree with it, and the identity file is a
// secret like any other.
func TestLoadIdentity(t *testing.T) {
	other := enrol(t, "QZTEST00000000099")
	for _, tc := range []struct {
		name   string
		config string
		files  map[string]string
		mode   os.FileMode
		want   string // "" for success
	}{
		{"with the VIN", strings.Replace(gatewaytest.GoodHead, "  vin: QZTEST00000000042\n", "  vin: QZTEST00000000042\n  identity_file: vehicle.identity\n", 1), nil, 0o600, ""},
		{"the VIN from the identity", strings.Replace(gatewaytest.GoodHead, "  vin: QZTEST00000000042\n", "  identity_file: vehicle.identity\n", 1), nil, 0o600, ""},
		{"another vehicle's identity", strings.Replace(gatewaytest.GoodHead, "  vin: QZTEST00000000042\n", "  vin: QZTEST00000000042\n  identity_file: other.identity\n", 1),
			map[string]string{"other.identity": string(other.Marshal())}, 0o600, "quietzone.yaml:3: the VIN is not the one the identity"},
		{"a readable identity", strings.Replace(gatewaytest.GoodHead, "  vin: QZTEST00000000042\n", "  identity_file: vehicle.identity\n", 1), nil, 0o644, "quietzone.yaml:3: identity "},
		{"a broker without an identity", withUplink("  broker: ssl://127.0.0.1:8883\n  state_dir: s\n"), nil, 0o600, "quietzone.yaml:2: vehicle.identity_file is required with a broker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"quietzone.yaml": tc.config + "cameras: [{name: front, class: exterior}]\n"}
			if strings.HasPrefix(tc.name, "a broker") {
				files["quietzone.yaml"] = tc.config
			}
			for k, v := range tc.files {
				files[k] = v
			}
			path := gatewaytest.WriteSet(t, files)
			os.Chmod(filepath.Join(filepath.Dir(path), "vehicle.identity"), tc.mode)
			s, err := config.Load(path)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				if strings.Contains(err.Error(), "QZTEST00000000099") {
					t.Errorf("the error names a VIN: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id := enrol(t, "QZTEST00000000042")
			if s.VIN != id.VIN || s.Pseudonym != id.Pseudonym || !bytes.Equal(s.Keys.Audit, id.Keys().Audit) {
				t.Errorf("setup VIN %s pseudonym %s keys %+v", s.VIN, s.Pseudonym, s.Keys)
			}
		})
	}
}

// AuditKey takes a vehicle's identity or its raw root key file.
func TestAuditKey(t *testing.T) {
	dir := t.TempDir()
	id := enrol(t, "QZTEST00000000042")
	p := filepath.Join(dir, "vehicle.identity")
	os.WriteFile(p, id.Marshal(), 0o600)
	k, err := config.AuditKey(p)
	if err != nil || !bytes.Equal(k, id.Keys().Audit) {
		t.Fatalf("audit key %x, %v", k, err)
	}
	raw := filepath.Join(dir, "queue.key")
	os.WriteFile(raw, []byte(strings.Repeat("ab", 32)), 0o600)
	if k, err := config.AuditKey(raw); err != nil || !bytes.Equal(k, config.DeriveKeys(bytes.Repeat([]byte{0xab}, 32)).Audit) {
		t.Fatalf("audit key of a raw key: %x, %v", k, err)
	}
	os.WriteFile(raw, []byte("nonsense"), 0o600)
	if _, err := config.AuditKey(raw); err == nil {
		t.Error("nonsense accepted")
	}
}
