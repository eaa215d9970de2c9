package uplinktest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a test fleet's certificates, made fresh by NewPKI: a CA, a
// broker certificate for 127.0.0.1 and localhost, and a vehicle's client
// certificate, as PEM files in a temporary directory and as crypto values;
// and, to be refused, a client certificate signed by another CA.
type PKI struct {
	CAFile                string // the fleet CA
	ServerCert, ServerKey string // the broker's
	ClientCert, ClientKey string // the vehicle's, signed by the fleet CA
	WrongCert, WrongKey   string // a vehicle's, signed by another CA
	Roots                 *x509.CertPool
	Client, Wrong         tls.Certificate
	OtherRoots            *x509.CertPool // the other CA
}

// NewPKI makes a PKI for a vehicle whose certificate names it cn.
func NewPKI(t testing.TB, cn string) *PKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	sign := func(tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey) {
		k := newKey()
		return sign(&x509.Certificate{
			Subject:               pkix.Name{CommonName: name},
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}, nil, &k.PublicKey, k), k
	}
	clientCert := func(ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		k := newKey()
		return sign(&x509.Certificate{
			Subject:     pkix.Name{CommonName: cn},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, ca, &k.PublicKey, caKey), k
	}

	ca, caKey := newCA("quietzone test fleet CA")
	serverKey := newKey()
	server := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "quietzone test broker"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &serverKey.PublicKey, caKey)
	client, clientKey := clientCert(ca, caKey)
	other, otherKey := newCA("some other CA")
	wrong, wrongKey := clientCert(other, otherKey)

	p := &PKI{
		CAFile:     write("ca.pem", "CERTIFICATE", ca.Raw),
		ServerCert: write("broker.pem", "CERTIFICATE", server.Raw),
		ServerKey:  write("broker.key", "PRIVATE KEY", keyDER(serverKey)),
		ClientCert: write("vehicle.pem", "CERTIFICATE", client.Raw),
		ClientKey:  write("vehicle.key", "PRIVATE KEY", keyDER(clientKey)),
		WrongCert:  write("wrong.pem", "CERTIFICATE", wrong.Raw),
		WrongKey:   write("wrong.key", "PRIVATE KEY", keyDER(wrongKey)),
		Roots:      x509.NewCertPool(),
		Client:     tls.Certificate{Certificate: [][]byte{client.Raw}, PrivateKey: clientKey, Leaf: client},
		Wrong:      tls.Certificate{Certificate: [][]byte{wrong.Raw}, PrivateKey: wrongKey, Leaf: wrong},
		OtherRoots: x509.NewCertPool(),
	}
	p.Roots.AddCert(ca)
	p.OtherRoots.AddCert(other)
	return p
}

// ClientTLS is a vehicle's TLS configuration: the fleet CA and its
// certificate.
func (p *PKI) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.Roots, Certificates: []tls.Certificate{p.Client}, MinVersion: tls.VersionTLS12}
}

// WithPKI is WithTLS for a PKI, requiring client certificates.
func WithPKI(p *PKI) Option { return WithTLS(p.CAFile, p.ServerCert, p.ServerKey, true) }
