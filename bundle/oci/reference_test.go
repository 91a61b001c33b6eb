package oci_test

import (
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle/oci"
)

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     oci.Reference
		err      string
	}{
		{"channel", "oci://registry.example.com/acme/policy:prod", oci.Reference{Registry: "registry.example.com", Repository: "acme/policy", Tag: "prod"}, ""},
		{"port", "oci://127.0.0.1:5000/policy", oci.Reference{Registry: "127.0.0.1:5000", Repository: "policy"}, ""},
		{"no scheme", "registry.example.com/acme/policy", oci.Reference{}, "is not a registry reference"},
		{"no repository", "oci://registry.example.com", oci.Reference{}, "names no repository"},
		{"digest", "oci://r.example.com/p@sha256:" + strings.Repeat("a", 64), oci.Reference{}, "names a digest"},
		{"upper case repository", "oci://r.example.com/Acme/policy", oci.Reference{}, "not a valid registry reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := oci.ParseReference(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseReference(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseReference(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			if got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestParseChannelAndRepository(t *testing.T) {
	if _, err := oci.ParseChannel("oci://r.example.com/p"); err == nil || !strings.Contains(err.Error(), "names no channel") {
		t.Errorf("a reference without a tag as a channel: %v", err)
	}
	if _, err := oci.ParseChannel("oci://r.example.com/p:rev-abc"); err == nil || !strings.Contains(err.Error(), "name revisions' artifacts") {
		t.Errorf("a revision tag as a channel: %v", err)
	}
	if _, err := oci.ParseRepository("oci://r.example.com/p:prod"); err == nil || !strings.Contains(err.Error(), "name the repository alone") {
		t.Errorf("a tag where a repository is wanted: %v", err)
	}
}

// TestRevisionTag checks the mapping of revisions to tags: a revision that
// makes a valid tag keeps its name after "rev-"; one with "+" or too long
// gets the SHA-256 of its name after "revh-"; the same revision always
// gets the same tag, and no revision tag is a valid channel.
func TestRevisionTag(t *testing.T) {
	long := strings.Repeat("a", 125)
	for _, tc := range []struct{ rev, want string }{
		{"e58161150413e9df44a464899d7d81371b9135b5", "rev-e58161150413e9df44a464899d7d81371b9135b5"},
		{"v1.2.3-dirty-abc", "rev-v1.2.3-dirty-abc"},
		{strings.Repeat("b", 124), "rev-" + strings.Repeat("b", 124)},
		// sha256("1.2.3+build.7")
		{"1.2.3+build.7", "revh-"},
		{long, "revh-"},
	} {
		got := oci.RevisionTag(tc.rev)
		if !strings.HasPrefix(got, tc.want) || (strings.HasPrefix(tc.want, "rev-") && got != tc.want) {
			t.Errorf("RevisionTag(%q) = %q, want %q…", tc.rev, got, tc.want)
		}
		if len(got) > 128 {
			t.Errorf("RevisionTag(%q) = %q is longer than a tag may be", tc.rev, got)
		}
		if got != oci.RevisionTag(tc.rev) {
			t.Errorf("RevisionTag(%q) is not deterministic", tc.rev)
		}
		if err := oci.ValidChannel(got); err == nil {
			t.Errorf("revision tag %q is accepted as a channel", got)
		}
	}
	if oci.RevisionTag("1.2.3+build.7") == oci.RevisionTag("1.2.3+build.8") {
		t.Error("two revisions map to one tag")
	}
}

func TestValidChannel(t *testing.T) {
	for _, ok := range []string{"prod", "staging-eu", "v1.2", "_x", "revision", "rev"} {
		if err := oci.ValidChannel(ok); err != nil {
			t.Errorf("ValidChannel(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-prod", ".prod", "pro+d", strings.Repeat("p", 129), "rev-1", "revh-ab"} {
		if err := oci.ValidChannel(bad); err == nil {
			t.Errorf("ValidChannel(%q) accepted", bad)
		}
	}
}
