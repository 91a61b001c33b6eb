package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signature is a detached ed25519 signature over a bundle digest, stored in
// signature.json. The signed message is the digest string itself
// ("sha256:<hex>"), so a signature can be checked with any ed25519 tool.
type Signature struct {
	Algorithm string `json:"algorithm"`
	// KeyID is the first 16 hex digits of the SHA-256 of the raw public key;
	// it tells operators which key signed, it is not trusted for anything.
	KeyID     string `json:"key_id"`
	Digest    string `json:"digest"`
	Signature string `json:"signature"`
}

// KeyID returns the identifier recorded in signatures made by pub.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Sign computes b's digest and attaches a signature over it made with key.
func Sign(b *Bundle, key ed25519.PrivateKey) error {
	digest, err := ComputeDigest(b)
	if err != nil {
		return err
	}
	b.Digest = digest
	b.Signature = SignDigest(digest, key)
	return nil
}

// SignDigest signs a digest string ("sha256:<hex>") with key: the
// signature a bundle carries over its digest, and a registry channel over
// its document's (see bundle/oci), so that one key and one check serve
// both.
func SignDigest(digest string, key ed25519.PrivateKey) *Signature {
	return &Signature{
		Algorithm: "ed25519",
		KeyID:     KeyID(key.Public().(ed25519.PublicKey)),
		Digest:    digest,
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(digest))),
	}
}

// Verify checks that b carries a valid signature by pub over its digest.
func Verify(b *Bundle, pub ed25519.PublicKey) error {
	return verifyDigest(b.Signature, b.Digest, "bundle", pub)
}

// verifyDigest checks that s is a valid signature by pub over digest, the
// digest of what signed names ("bundle", "channel").
func verifyDigest(s *Signature, digest, signed string, pub ed25519.PublicKey) error {
	switch {
	case s == nil:
		return fmt.Errorf("%w: the %s is not signed", ErrSignature, signed)
	case s.Algorithm != "ed25519":
		return fmt.Errorf("%w: algorithm %q is not ed25519", ErrSignature, s.Algorithm)
	case s.Digest != digest:
		return fmt.Errorf("%w: signature is over digest %s, the %s's digest is %s", ErrSignature, s.Digest, signed, digest)
	}
	raw, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64: %v", ErrSignature, err)
	}
	if !ed25519.Verify(pub, []byte(digest), raw) {
		return fmt.Errorf("%w: signature does not verify with key %s (%s says key %s)", ErrSignature, KeyID(pub), signed, s.KeyID)
	}
	return nil
}

// VerifyAny checks that b carries a valid signature by one of keys. The
// error, when none verifies, names the key the bundle says signed it.
func VerifyAny(b *Bundle, keys []ed25519.PublicKey) error {
	return VerifyDigestAny(b.Signature, b.Digest, "bundle", keys)
}

// VerifyDigestAny checks that s is a valid signature over digest by one of
// keys; signed names what the digest is of ("bundle", "channel") in the
// error, which, when no key verifies, names the key s says signed it.
func VerifyDigestAny(s *Signature, digest, signed string, keys []ed25519.PublicKey) error {
	var first error
	for _, k := range keys {
		err := verifyDigest(s, digest, signed, k)
		if err == nil {
			return nil
		}
		// The key the signature names is the one whose failure explains it.
		if s != nil && KeyID(k) == s.KeyID {
			return err
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return fmt.Errorf("%w: no verification key", ErrSignature)
	}
	if len(keys) > 1 && s != nil {
		return fmt.Errorf("%w: signed by key %s, which is not one of the %d keys trusted", ErrSignature, s.KeyID, len(keys))
	}
	return first
}

// GenerateKey returns a new ed25519 key pair as PEM: the private key in
// PKCS #8 and the public key in SubjectPublicKeyInfo form, the formats
// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` use.
func GenerateKey() (privPEM, pubPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), nil
}

// ParsePrivateKey reads an ed25519 private key in PEM PKCS #8 form.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" block (want PKCS #8, as from `openssl genpkey -algorithm ed25519`)")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want ed25519", key)
	}
	return priv, nil
}

// ParsePublicKey reads an ed25519 public key in PEM SubjectPublicKeyInfo
// form.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\" block (as from `openssl pkey -pubout`)")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want ed25519", key)
	}
	return pub, nil
}
