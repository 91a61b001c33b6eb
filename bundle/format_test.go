package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// format-v1.tar.gz was written by cedargate before format version 2 (the
// Encode of commit aef9e22), with one policy per grant: it must still
// read, with the digest it was stored under.
const v1Digest = "sha256:3a1bd39d5599966a70920f5bc3b8814e721040f63cf9646bf96f1654d48ad72e"

func TestReadsFormatVersion1(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "format-v1.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(bytes.NewReader(data), DecodeOptions{Digest: v1Digest})
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.FormatVersion != 1 || len(b.Grants) != 0 || len(b.Policies) != 2 || b.Policies[0].NotAfter == nil {
		t.Fatalf("decoded %+v", b)
	}
	// Written again as version 1, it is the same bundle.
	again, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	if b.Digest != v1Digest || !bytes.Equal(again, data) {
		t.Fatalf("re-encoded version 1 bundle differs (digest %s)", b.Digest)
	}
}

// grantSample is a version 2 bundle: a template and the grant held
// through it.
func grantSample() *Bundle {
	exp := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	return &Bundle{
		Manifest: Manifest{FormatVersion: FormatVersion, Name: "t", Revision: "abc", Environment: "prod", Counts: Counts{Entities: 2, Policies: 1, Grants: 1}},
		Schema:   []byte("entity AccessProfile;\nentity User in [AccessProfile];\n"),
		Entities: []byte("[\n{\"uid\":{\"type\":\"AccessProfile\",\"id\":\"p\"},\"parents\":[],\"attrs\":{}},\n" +
			"{\"uid\":{\"type\":\"User\",\"id\":\"a\"},\"parents\":[{\"type\":\"AccessProfile\",\"id\":\"p\"}],\"attrs\":{}}\n]\n"),
		Policies: []Policy{{ID: "profile:p#0", Source: "identities/p.yaml:1:1", Origin: "AccessProfile", Template: true,
			Cedar: "permit (principal in AccessProfile::\"p\", action, resource);"}},
		Grants: []Grant{{ID: "entitlement:User/a:p", Source: "identities/a.yaml:3:1", Origin: "Entitlement",
			Principal: UID{Type: "User", ID: "a"}, Parent: UID{Type: "AccessProfile", ID: "p"}, NotAfter: &exp}},
	}
}

func TestFormatVersion2RoundTrip(t *testing.T) {
	data, err := Encode(grantSample())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(bytes.NewReader(data), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := grantSample().Grants[0]
	if len(b.Grants) != 1 || b.Grants[0].ID != want.ID || b.Grants[0].Source != want.Source || b.Grants[0].Principal != want.Principal ||
		b.Grants[0].Parent != want.Parent || !b.Grants[0].NotAfter.Equal(*want.NotAfter) || !b.Policies[0].Template {
		t.Fatalf("decoded grants %+v, policies %+v", b.Grants, b.Policies)
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if !b.Grants[0].ActiveAt(at.Add(-time.Nanosecond)) || b.Grants[0].ActiveAt(at) {
		t.Error("the grant's window is not [-inf, 2026-12-01)")
	}
}

func TestFormatVersionsAreNotMixed(t *testing.T) {
	good, err := Encode(grantSample())
	if err != nil {
		t.Fatal(err)
	}
	v1, err := os.ReadFile(filepath.Join("testdata", "format-v1.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		archive []byte
		want    string
	}{
		// Without grants.json the listing is version 1's, which the sums
		// of a version 2 bundle do not match.
		{"grants.json removed", rewrite(t, good, GrantsFile, nil), "digest mismatch"},
		{"grants edited", rewrite(t, good, GrantsFile, []byte("[]\n")), "digest mismatch"},
		{"grants.json added to version 1", withFile(t, v1, GrantsFile, []byte("[]\n")), "digest mismatch"},
		{"a version 1 manifest with grants.json", relisted(t, withFile(t, good, ManifestFile, []byte(`{"format_version":1,"revision":"abc","environment":"prod","source_digest":"","compiler_version":"","build_time":"0001-01-01T00:00:00Z","counts":{"entities":0,"policies":0,"grants":0}}`))), "format_version 1, but the archive has grants.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(bytes.NewReader(tt.archive), DecodeOptions{}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("version 1 with grants", func(t *testing.T) {
		b := grantSample()
		b.Manifest.FormatVersion = 1
		if _, err := Encode(b); err == nil || !strings.Contains(err.Error(), "cannot hold grants or template policies") {
			t.Fatalf("Encode error = %v", err)
		}
	})
	t.Run("version from the future", func(t *testing.T) {
		b := grantSample()
		b.Manifest.FormatVersion = FormatVersion + 1
		if _, err := Encode(b); err == nil || !strings.Contains(err.Error(), "format_version") {
			t.Fatalf("Encode error = %v", err)
		}
	})
}

// withFile returns archive with file name set to data: replaced, or
// added at the end.
func withFile(t *testing.T, archive []byte, name string, data []byte) []byte {
	t.Helper()
	files, order := readArchive(t, archive)
	if _, ok := files[name]; !ok {
		order = append(order, name)
	}
	files[name] = data
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for _, n := range order {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		_, _ = tw.Write(files[n])
	}
	_ = tw.Close()
	_ = zw.Close()
	return out.Bytes()
}

// readArchive returns the files of archive, and their names in order.
func readArchive(t *testing.T, archive []byte) (map[string][]byte, []string) {
	t.Helper()
	files := map[string][]byte{}
	var order []string
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, order
		}
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name], _ = io.ReadAll(tr)
		order = append(order, hdr.Name)
	}
}

// relisted returns archive with its SHA256SUMS made to match its files,
// as a forger would: what the manifest says must still agree with them.
func relisted(t *testing.T, archive []byte) []byte {
	t.Helper()
	files, _ := readArchive(t, archive)
	return withFile(t, archive, SumsFile, sums(files, FormatVersion))
}
