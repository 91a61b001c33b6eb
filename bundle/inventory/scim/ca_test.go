package scim

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestClientTrusting reads a directory served under a certificate the
// system does not trust: refused with the default client, read with a
// client trusting a CA file that holds it, and CA files that are wrong
// are refused naming the file and line.
func TestClientTrusting(t *testing.T) {
	d := newDirectory(t, 3, nil)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	s, err := NewServer(d.URL, token, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "(page 1): tls: failed to verify certificate: x509: certificate signed by unknown authority") {
		t.Fatalf("untrusted server: %v", err)
	}

	// Text between blocks, as in the bundles distributions ship, is allowed.
	bundle := write("ca.pem", append([]byte("# internal CA\n"), d.CertPEM()...))
	client, err := ClientTrusting(bundle)
	if err != nil {
		t.Fatal(err)
	}
	s, err = NewServer(d.URL, token, Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Read(context.Background())
	if err != nil || len(snap.Objects) != 3 {
		t.Fatalf("trusting the CA file: %v", err)
	}

	badDER := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secret")})
	// After the certificate's lines and a blank one.
	keyLine := bytes.Count(d.CertPEM(), []byte("\n")) + 2
	for _, tt := range []struct{ name, file, want string }{
		{"missing", filepath.Join(dir, "missing.pem"), "missing.pem: no such file"},
		{"no certificate", write("empty.pem", []byte("hello\n")), "empty.pem holds no PEM certificate"},
		{"private key", write("key.pem", append(append(d.CertPEM(), '\n'), key...)), "key.pem:" + strconv.Itoa(keyLine) + ": a PRIVATE KEY block"},
		{"bad certificate", write("bad.pem", append([]byte("a\nb\n"), badDER...)), "bad.pem:3: x509: malformed certificate"},
		{"too large", write("large.pem", bytes.Repeat([]byte("x"), MaxCAFile+1)), "larger than the limit of 1048576 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ClientTrusting(tt.file); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ClientTrusting: %v\nwant it to hold %q", err, tt.want)
			} else if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the key's bytes", err)
			}
		})
	}
}
