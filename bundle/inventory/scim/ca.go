package scim

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// MaxCAFile bounds the CA bundle ClientTrusting reads: 1 MiB holds
// hundreds of certificates, more than any internal CA chain.
const MaxCAFile = 1 << 20

// ClientTrusting returns an HTTP client whose TLS connections trust the
// system's root certificates and, besides them, the certificates of the
// PEM bundle in file: for an identity provider served under an internal
// (private) CA. The bundle must hold at least one CERTIFICATE block and
// nothing else but text between blocks; a private key or a certificate
// that does not parse is refused, naming the file and the line of the
// block, rather than skipped, so that a wrong file is noticed.
func ClientTrusting(file string) (*http.Client, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("scim: CA file: %w", err)
	}
	defer f.Close()
	data, err := inventory.ReadAll(f, MaxCAFile)
	if errors.Is(err, inventory.ErrTooLarge) {
		return nil, fmt.Errorf("scim: CA file %s: larger than the limit of %d bytes", file, MaxCAFile)
	}
	if err != nil {
		return nil, fmt.Errorf("scim: CA file %s: %w", file, err)
	}
	// The system's roots stay trusted: a bundle adds the internal CA, it
	// does not replace the public ones. Without system roots (a minimal
	// image), only the bundle is trusted, which fails closed.
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	n := 0
	for rest := data; ; {
		var block *pem.Block
		before := rest
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		// The line the block starts on: pem.Decode skips text before it.
		start := len(data) - len(before) + bytes.Index(before, []byte("-----BEGIN"))
		line := bytes.Count(data[:start], []byte("\n")) + 1
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("scim: CA file %s:%d: a %s block; give only the CA's certificates", file, line, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("scim: CA file %s:%d: %v", file, line, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("scim: CA file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}
