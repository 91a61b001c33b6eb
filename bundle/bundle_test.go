package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample() *Bundle {
	exp := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	return &Bundle{
		Manifest: Manifest{FormatVersion: FormatVersion, Name: "t", Revision: "abc", Environment: "prod",
			SourceDigest: "sha256:00", CompilerVersion: "test", Counts: Counts{Entities: 1, Policies: 2, Grants: 1}, EarliestExpiry: &exp},
		Schema:   []byte("entity User;\n"),
		Entities: []byte("[\n{\"uid\":{\"type\":\"User\",\"id\":\"a\"},\"parents\":[],\"attrs\":{}}\n]\n"),
		Policies: []Policy{
			{ID: "entitlement:User/a:p#0", Source: "identities/a.yaml:3:1", Origin: "Entitlement", NotAfter: &exp, Cedar: "permit (principal == User::\"a\", action, resource);"},
			{ID: "policies/a.cedar#0", Source: "policies/a.cedar:1:1", Origin: "policy", Cedar: "forbid (principal, action, resource);"},
		},
	}
}

func TestEncodeDecodeRoundTripIsDeterministic(t *testing.T) {
	first, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	second, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("two encodings of the same bundle differ")
	}
	b, err := Decode(bytes.NewReader(first), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	wantDigest, _ := ComputeDigest(want)
	if b.Digest != wantDigest || !strings.HasPrefix(b.Digest, "sha256:") {
		t.Errorf("digest = %s, want %s", b.Digest, wantDigest)
	}
	if b.Manifest.Revision != "abc" || !b.Manifest.EarliestExpiry.Equal(*want.Manifest.EarliestExpiry) {
		t.Errorf("manifest = %+v", b.Manifest)
	}
	if len(b.Policies) != 2 || b.Policies[0].Cedar != want.Policies[0].Cedar || !b.Policies[0].NotAfter.Equal(*want.Policies[0].NotAfter) {
		t.Errorf("policies = %+v", b.Policies)
	}
	if !bytes.Equal(b.Entities, want.Entities) || !bytes.Equal(b.Schema, want.Schema) {
		t.Error("entities or schema changed in the round trip")
	}
}

// rewrite returns archive with file name's content replaced (or removed
// when data is nil), leaving everything else as is.
func rewrite(t *testing.T, archive []byte, name string, data []byte) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(tr)
		if hdr.Name == name {
			if data == nil {
				continue
			}
			content = data
		}
		hdr.Size = int64(len(content))
		_ = tw.WriteHeader(hdr)
		_, _ = tw.Write(content)
	}
	_ = tw.Close()
	_ = zw.Close()
	return out.Bytes()
}

func TestDecodeRefusesDamagedBundles(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		archive []byte
		opts    DecodeOptions
		want    string
	}{
		{"truncated", good[:len(good)/2], DecodeOptions{}, "unexpected EOF"},
		{"not gzip", []byte("hello"), DecodeOptions{}, "not a gzip archive"},
		{"policy edited", rewrite(t, good, PoliciesFile, []byte("[]\n")), DecodeOptions{}, "digest mismatch"},
		{"entities edited", rewrite(t, good, EntitiesFile, []byte("[]\n")), DecodeOptions{}, "digest mismatch"},
		{"sums missing", rewrite(t, good, SumsFile, nil), DecodeOptions{}, "SHA256SUMS is missing"},
		{"other digest expected", good, DecodeOptions{Digest: "sha256:1234"}, "digest mismatch (want: sha256:1234"},
		{"too large", good, DecodeOptions{MaxSize: 100}, "larger than the 100-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.archive), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	t.Run("unexpected file", func(t *testing.T) {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		tw := tar.NewWriter(zw)
		_ = tw.WriteHeader(&tar.Header{Name: "../etc/passwd", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte("x"))
		_ = tw.Close()
		_ = zw.Close()
		if _, err := Decode(&out, DecodeOptions{}); err == nil || !strings.Contains(err.Error(), `unexpected file "../etc/passwd"`) {
			t.Fatalf("Decode error = %v", err)
		}
	})
}

func TestSignatures(t *testing.T) {
	priv, pub := keyPair(t)
	_, otherPub := keyPair(t)

	signed := sample()
	if err := Sign(signed, priv); err != nil {
		t.Fatal(err)
	}
	signedArchive, err := Encode(signed)
	if err != nil {
		t.Fatal(err)
	}
	unsignedArchive, _ := Encode(sample())

	if b, err := Decode(bytes.NewReader(signedArchive), DecodeOptions{VerifyKeys: []ed25519.PublicKey{pub}}); err != nil || b.Signature.KeyID != KeyID(pub) {
		t.Fatalf("valid signature refused: %v", err)
	}
	for name, tc := range map[string]struct {
		archive []byte
		key     ed25519.PublicKey
		want    string
	}{
		"unsigned":  {unsignedArchive, pub, "not signed"},
		"wrong key": {signedArchive, otherPub, "does not verify with key " + KeyID(otherPub)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tc.archive), DecodeOptions{VerifyKeys: []ed25519.PublicKey{tc.key}})
			if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want ErrSignature containing %q", err, tc.want)
			}
		})
	}
	// A signature copied onto different content must not verify.
	other := sample()
	other.Policies = other.Policies[:1]
	other.Signature = signed.Signature
	if _, err := Encode(other); err == nil {
		t.Fatal("Encode accepted a signature over another digest")
	}
}

// TestOpenSSLKeys checks the documented openssl recipe produces keys cedargate
// reads. openssl is part of every Debian image CI runs on.
func TestOpenSSLKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl not installed: %v (the .ci/run script installs it)", err)
	}
	dir := t.TempDir()
	priv := filepath.Join(dir, "k.pem")
	pub := filepath.Join(dir, "k.pub")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-out", priv).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	if out, err := exec.Command("openssl", "pkey", "-in", priv, "-pubout", "-out", pub).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkey: %v\n%s", err, out)
	}
	privPEM, _ := os.ReadFile(priv)
	pubPEM, _ := os.ReadFile(pub)
	k, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	b := sample()
	if err := Sign(b, k); err != nil {
		t.Fatal(err)
	}
	if err := Verify(b, p); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyAnyAcceptsEitherKeyOfARotation checks that a bundle signed with
// the old key still verifies while both keys are trusted, and that the
// error names the signing key when neither is.
func TestVerifyAnyAcceptsEitherKeyOfARotation(t *testing.T) {
	oldPriv, oldPub := keyPair(t)
	_, newPub := keyPair(t)
	_, otherPub := keyPair(t)
	b := sample()
	if err := Sign(b, oldPriv); err != nil {
		t.Fatal(err)
	}
	if err := VerifyAny(b, []ed25519.PublicKey{newPub, oldPub}); err != nil {
		t.Fatalf("old-key bundle with both keys trusted: %v", err)
	}
	err := VerifyAny(b, []ed25519.PublicKey{newPub, otherPub})
	if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "signed by key "+KeyID(oldPub)+", which is not one of the 2 keys trusted") {
		t.Fatalf("untrusted signer: %v", err)
	}
}

func keyPair(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// TestAuthZENMappingIsOptional checks that the AuthZEN mapping travels in
// a file of its own, covered by the digest, and that a bundle without one
// is written exactly as before the file existed: the same files in
// SHA256SUMS (the five of format version 2), so its digest does not
// change.
func TestAuthZENMappingIsOptional(t *testing.T) {
	plain, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	listing := string(fileOf(t, plain, SumsFile))
	if strings.Count(listing, "\n") != len(contentFiles(FormatVersion))-1 || strings.Contains(listing, AuthZENFile) || fileOf(t, plain, AuthZENFile) != nil {
		t.Fatalf("a bundle without a mapping lists:\n%s", listing)
	}
	b, err := Decode(bytes.NewReader(plain), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.AuthZEN != nil {
		t.Fatalf("decoded a mapping from a bundle without one: %+v", b.AuthZEN)
	}

	mapped := sample()
	mapped.AuthZEN = &AuthZEN{Namespace: "Acme", Types: map[string]string{"user": "Acme::User"},
		Actions: map[string]string{"can_read": `Acme::Action::"read"`}, UnknownSubjects: "deny"}
	archive, err := Encode(mapped)
	if err != nil {
		t.Fatal(err)
	}
	if mapped.Digest == b.Digest {
		t.Fatal("the mapping does not change the digest")
	}
	if !strings.Contains(string(fileOf(t, archive, SumsFile)), "  "+AuthZENFile+"\n") {
		t.Fatalf("SHA256SUMS does not list %s:\n%s", AuthZENFile, fileOf(t, archive, SumsFile))
	}
	got, err := Decode(bytes.NewReader(archive), DecodeOptions{Digest: mapped.Digest})
	if err != nil {
		t.Fatal(err)
	}
	if got.AuthZEN == nil || got.AuthZEN.Types["user"] != "Acme::User" || got.AuthZEN.Actions["can_read"] != `Acme::Action::"read"` || got.AuthZEN.UnknownSubjects != "deny" {
		t.Fatalf("mapping after the round trip: %+v", got.AuthZEN)
	}

	// The mapping is content: changing it without the listing is a
	// digest mismatch, removing it too, and a field this version does not
	// know is refused even with a listing that matches.
	if _, err := Decode(bytes.NewReader(rewrite(t, archive, AuthZENFile, []byte(`{"namespace":"Evil"}`))), DecodeOptions{}); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("edited mapping: %v, want a digest mismatch", err)
	}
	if _, err := Decode(bytes.NewReader(rewrite(t, archive, AuthZENFile, nil)), DecodeOptions{}); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("removed mapping: %v, want a digest mismatch", err)
	}
	files := map[string][]byte{AuthZENFile: []byte(`{"namespace":"Acme","future":1}`)}
	for _, name := range contentFiles(FormatVersion) {
		if name == AuthZENFile {
			continue
		}
		files[name] = fileOf(t, archive, name)
	}
	future := rewrite(t, rewrite(t, archive, AuthZENFile, files[AuthZENFile]), SumsFile, sums(files, FormatVersion))
	if _, err := Decode(bytes.NewReader(future), DecodeOptions{}); err == nil || !strings.Contains(err.Error(), `unknown field "future"`) {
		t.Errorf("mapping with an unknown field: %v, want it refused", err)
	}
}

// fileOf returns the content of file name in archive, nil when absent.
func fileOf(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	files, _ := readArchive(t, archive)
	return files[name]
}
