// Package testpki makes the certificates tests of TLS and mTLS listeners
// need: a CA, a server certificate for the loopback addresses and client
// certificates naming a SPIFFE id, all generated in memory for one test
// (ECDSA P-256, valid for a day around a fixed instant, so that no test
// depends on the clock beyond the day it runs).
package testpki

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
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a test certificate authority.
type PKI struct {
	t      testing.TB
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	// CAPEM is the CA certificate, PEM-encoded.
	CAPEM  []byte
	serial int64
}

// New makes a CA for t.
func New(t testing.TB) *PKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cedargate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{t: t, caCert: cert, caKey: key, CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// Pair is a certificate and its key, PEM-encoded, and as tls uses them.
type Pair struct {
	CertPEM, KeyPEM []byte
	TLS             tls.Certificate
}

// issue signs a certificate for tmpl's names.
func (p *PKI) issue(tmpl *x509.Certificate) Pair {
	p.t.Helper()
	p.serial++
	key := newKey(p.t)
	tmpl.SerialNumber = big.NewInt(p.serial)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	pair := Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
	if pair.TLS, err = tls.X509KeyPair(pair.CertPEM, pair.KeyPEM); err != nil {
		p.t.Fatal(err)
	}
	return pair
}

// Server issues a server certificate for localhost, 127.0.0.1 and ::1.
func (p *PKI) Server() Pair {
	return p.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// Client issues a client certificate whose URI SAN is spiffeID (none when
// empty) and whose common name is cn.
func (p *PKI) Client(spiffeID, cn string) Pair {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if spiffeID != "" {
		u, err := url.Parse(spiffeID)
		if err != nil {
			p.t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	return p.issue(tmpl)
}

// Pool is a pool holding the CA.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	return pool
}

// ServerConfig is a server's TLS configuration with a certificate of the
// CA's; with clientAuth, clients must present one of the CA's too.
func (p *PKI) ServerConfig(clientAuth bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, MinVersion: tls.VersionTLS12}
	if clientAuth {
		cfg.ClientCAs = p.Pool()
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

// ClientConfig is a client's TLS configuration trusting the CA, presenting
// client when it is not nil.
func (p *PKI) ClientConfig(client *Pair) *tls.Config {
	cfg := &tls.Config{RootCAs: p.Pool(), MinVersion: tls.VersionTLS12}
	if client != nil {
		cfg.Certificates = []tls.Certificate{client.TLS}
	}
	return cfg
}

// WriteFiles writes the CA and pair into dir as ca.pem, name.pem and
// name-key.pem, for commands that read them from files, and returns their
// paths.
func (p *PKI) WriteFiles(dir, name string, pair Pair) (ca, cert, key string) {
	p.t.Helper()
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	for f, data := range map[string][]byte{ca: p.CAPEM, cert: pair.CertPEM, key: pair.KeyPEM} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			p.t.Fatal(err)
		}
	}
	return ca, cert, key
}
