package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/scimtest"
)

const (
	driftSCIMToken = "cli-scim-token-never-shown"
	// driftSCIMUsers are the users both sides know: three pages of users.
	driftSCIMUsers = 250
)

// driftSCIMFixture is a real SCIM server (internal/scimtest: the elimity
// library on a loopback TLS port) and an identity repository that differ
// by a live-only user, a code-only user and two memberships of one group,
// read through `cedargate drift` as a user runs it.
type driftSCIMFixture struct {
	dir   *scimtest.Directory
	repo  string
	ca    string // the server's certificate, as --scim-ca-file
	token string // a file holding the token
	wrong string // a file holding another token
}

// newDriftSCIMFixture fills the server through its API: users
// user000@example.com … user249@example.com and intruder@example.com, a
// group staff holding the 250 (members on every page of users), and a
// group oncall holding user001, user002 and user150. Code declares users
// user000 … user249 in staff, user001, user002 and user003 in oncall, and
// a user gone.
func newDriftSCIMFixture(t *testing.T) *driftSCIMFixture {
	t.Helper()
	f := &driftSCIMFixture{dir: scimtest.Start(t, driftSCIMToken), repo: t.TempDir()}
	var ids []string
	var code strings.Builder
	oncall := []int{1, 2, 3}
	for i := range driftSCIMUsers {
		ids = append(ids, f.dir.AddUser(t, fmt.Sprintf("user%03d@example.com", i), true))
		groups := "staff"
		if slices.Contains(oncall, i) {
			groups += ", oncall"
		}
		fmt.Fprintf(&code, "kind: User\nname: user%03d\ngroups: [%s]\n---\n", i, groups)
	}
	f.dir.AddUser(t, "intruder@example.com", true)
	f.dir.AddGroup(t, "staff", ids...)
	f.dir.AddGroup(t, "oncall", ids[1], ids[2], ids[150])
	code.WriteString("kind: User\nname: gone\n---\nkind: Group\nname: staff\n---\nkind: Group\nname: oncall\n")

	files := map[string]string{
		"cedargate.yaml":         "name: scim-cli\n",
		"identities/people.yaml": code.String(),
		"ca.pem":                 string(f.dir.CertPEM()),
		"token":                  driftSCIMToken + "\n",
		"wrong-token":            "not-the-token\n",
	}
	secrets := t.TempDir() // outside the repository
	for name, content := range files {
		p := filepath.Join(f.repo, filepath.FromSlash(name))
		if !strings.HasPrefix(name, "identities/") && name != "cedargate.yaml" {
			p = filepath.Join(secrets, name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.ca, f.token, f.wrong = filepath.Join(secrets, "ca.pem"), filepath.Join(secrets, "token"), filepath.Join(secrets, "wrong-token")
	return f
}

// run runs cedargate drift against the server in format, with the token
// from tokenFile, or from $CEDARGATE_SCIM_TOKEN (read from tokenFile) when
// viaEnv.
func (f *driftSCIMFixture) run(t *testing.T, format, tokenFile string, viaEnv bool, extra ...string) result {
	t.Helper()
	args := []string{"drift", f.repo, "--source", "scim=" + f.dir.URL, "--scim-ca-file", f.ca, "--format", format}
	if viaEnv {
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv(scimTokenEnv, strings.TrimSpace(string(tok)))
	} else {
		t.Setenv(scimTokenEnv, "")
		args = append(args, "--scim-token-file", tokenFile)
	}
	r := runCLI(t, append(args, extra...)...)
	if strings.Contains(r.stdout+r.stderr, driftSCIMToken) {
		t.Errorf("the output shows the bearer token:\n%s%s", r.stdout, r.stderr)
	}
	return r
}

// tokenModes are the two ways of giving the bearer token.
var tokenModes = []struct {
	name   string
	viaEnv bool
}{{"token-file", false}, {"token-env", true}}

// TestDriftSCIMServer runs cedargate drift against a real SCIM server
// read over several pages: the report finds the live-only user, the
// code-only user and both directions of the changed membership, in every
// format and with the token given either way; --fail-on gates on them.
func TestDriftSCIMServer(t *testing.T) {
	f := newDriftSCIMFixture(t)
	for _, mode := range tokenModes {
		t.Run(mode.name+"/json", func(t *testing.T) {
			r := f.run(t, "json", f.token, mode.viaEnv)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var doc struct {
				Sources  []string `json:"sources"`
				Findings []struct {
					Kind, Source, Code, Pos string
					LiveKey                 string `json:"live_key"`
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("%v:\n%s", err, r.stdout)
			}
			var got []string
			for _, x := range doc.Findings {
				got = append(got, strings.Join([]string{x.Source, x.Kind, x.LiveKey, x.Code, x.Pos}, " "))
			}
			want := []string{
				"scim live-only intruder@example.com  ",
				// User gone is the 251st document, on line 4×250+1.
				"scim code-only  User/gone identities/people.yaml:1001:1",
				// user003's groups, [staff, oncall], on line 4×3+3.
				"scim membership oncall User/user003 identities/people.yaml:15:17",
				"scim membership oncall User/user150 identities/people.yaml:603:9",
			}
			if !slices.Equal(got, want) || !slices.Equal(doc.Sources, []string{"scim"}) {
				t.Errorf("findings:\n%q\nwant\n%q", got, want)
			}
		})
		t.Run(mode.name+"/text", func(t *testing.T) {
			r := f.run(t, "text", f.token, mode.viaEnv)
			for _, want := range []string{"1 live-only, 1 code-only, 2 membership", "User intruder@example.com is live but not in code", "code: identities/people.yaml:1001:1: User/gone"} {
				if r.code != 0 || !strings.Contains(r.stdout, want) {
					t.Errorf("exit %d, output lacks %q:\n%s%s", r.code, want, r.stdout, r.stderr)
				}
			}
		})
		t.Run(mode.name+"/markdown", func(t *testing.T) {
			r := f.run(t, "markdown", f.token, mode.viaEnv, "--fail-on", "membership")
			if r.code != 3 || !strings.Contains(r.stdout, "| membership | scim | `identities/people.yaml:603:9: User/user150` |") ||
				!strings.Contains(r.stderr, "2 finding(s) of kinds --fail-on membership") {
				t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestDriftSCIMServerFailures breaks the SCIM server the ways providers
// break, each while drift reads it: every one ends with exit 2, an error
// naming the request and page, and nothing on standard output (no partial
// report), in every format and with the token given either way.
func TestDriftSCIMServerFailures(t *testing.T) {
	f := newDriftSCIMFixture(t)
	users := f.dir.URL + "/Users?count=100&startIndex="
	tests := []struct {
		name  string
		wrong bool // the server is given another token
		noCA  bool // --scim-ca-file is left out
		wrap  scimtest.Wrapper
		want  string
	}{
		{name: "401", wrong: true,
			want: "scim: GET " + users + "1 (page 1): authentication failed (HTTP 401): the server refused the bearer token"},
		{name: "server error on page 2", wrap: scimtest.Fail(scimtest.Page("Users", 101), http.StatusInternalServerError),
			want: "scim: GET " + users + "101 (page 2): HTTP 500 Internal Server Error"},
		{name: "malformed page 2", wrap: scimtest.Rewrite(scimtest.Page("Users", 101), scimtest.Truncate),
			want: "scim: GET " + users + "101 (page 2): malformed JSON: unexpected end of JSON input"},
		{name: "paging loop", wrap: scimtest.Loop,
			want: "scim: GET " + users + "101 (page 2): resource Resources[0]: User id \"id-00001\" was returned before (the server is paging in a loop)"},
		{name: "untrusted certificate", noCA: true,
			want: "scim: GET " + users + "1 (page 1): tls: failed to verify certificate: x509: certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		for _, mode := range tokenModes {
			for _, format := range []string{"text", "markdown", "json"} {
				t.Run(tt.name+"/"+mode.name+"/"+format, func(t *testing.T) {
					f.dir.Wrap(tt.wrap)
					t.Cleanup(func() { f.dir.Wrap(nil) })
					tok := f.token
					if tt.wrong {
						tok = f.wrong
					}
					var extra []string
					if tt.noCA {
						// A later --scim-ca-file wins; an empty one trusts
						// the system's roots only.
						extra = []string{"--scim-ca-file="}
					}
					r := f.run(t, format, tok, mode.viaEnv, append(extra, "--fail-on", "any")...)
					if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
						t.Errorf("exit %d, stderr %q\nwant exit 2 and %q", r.code, r.stderr, tt.want)
					}
					if r.stdout != "" {
						t.Errorf("a failed read printed a report:\n%s", r.stdout)
					}
				})
			}
		}
	}

	t.Run("bad CA file", func(t *testing.T) {
		r := f.run(t, "json", f.token, false, "--scim-ca-file", f.token)
		if r.code != 2 || !strings.Contains(r.stderr, "scim: CA file "+f.token+" holds no PEM certificate") || r.stdout != "" {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}
