package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/internal/gittest"
	goldenpkg "github.com/cedargate/cedargate/internal/golden"
	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/engine"
)

// compiler is the version the test's bundles are built with.
const compiler = "cedargate test"

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freeze is a forbid, and a policy that always fails to evaluate (an
// overflow no validator sees), beside the scaffold's permit.
const freeze = `// Bob is on leave: nothing he asks for is written.
@id("bob-on-leave")
forbid (
  principal == App::User::"bob",
  action == App::Action::"write",
  resource
);

// Counts past the end of a long.
@id("overflow") permit (principal == App::User::"alice", action, resource)
when { 9223372036854775807 + 1 > 0 };
`

// oncall is a break-glass grant.
const oncall = `kind: User
name: oncall
---
# Incident 42: the on-call engineer reads the API until it is closed.
kind: Exception
name: oncall-reads-api
subject: User/oncall
profile: api-reader
approved_by: bob
expires: 2026-12-01T00:00:00Z
reason: Incident 42.
ticket: INC-42
`

// history makes the identity repository of the tests, in a subdirectory
// of its Git repository: commit A (the scaffold, by alice), commit B (the
// freeze and a break-glass exception, by bob) and commit C (by carol), which rewrites the admins'
// policy after the decisions were made; the work tree then changes it
// again, uncommitted. It returns the directory and the commits.
func history(t *testing.T) (dir string, commits []string) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "identity")
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	if err := build.Init(dir, build.InitOptions{Name: "acme", Now: now}); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, root, "alice", "2026-11-20T09:00:00Z", "init", "-q")
	gittest.Run(t, root, "alice", "2026-11-20T09:00:00Z", "add", "-A")
	gittest.Run(t, root, "alice", "2026-11-20T09:00:00Z", "commit", "-qm", "Scaffold the identity repository")
	writeFile(t, filepath.Join(dir, "policies", "freeze.cedar"), freeze)
	writeFile(t, filepath.Join(dir, "identities", "oncall.yaml"), oncall)
	gittest.Run(t, root, "bob", "2026-11-21T10:30:00+01:00", "add", "-A")
	gittest.Run(t, root, "bob", "2026-11-21T10:30:00+01:00", "commit", "-qm", "Freeze bob's writes while he is on leave")
	b := gittest.Run(t, root, "bob", "2026-11-21T10:30:00+01:00", "rev-parse", "HEAD")
	admins := filepath.Join(dir, "policies", "admins.cedar")
	writeFile(t, admins, "// Administrators may only read now.\n@id(\"admins-manage-services\")\npermit (\n  principal in App::Group::\"admins\",\n  action == App::Action::\"read\",\n  resource is App::Service\n);\n")
	gittest.Run(t, root, "carol", "2026-11-22T08:00:00Z", "commit", "-qam", "Admins read only")
	c := gittest.Run(t, root, "carol", "2026-11-22T08:00:00Z", "rev-parse", "HEAD")
	writeFile(t, admins, "// uncommitted\n")
	a := gittest.Run(t, root, "alice", "2026-11-20T09:00:00Z", "rev-parse", "HEAD~2")
	return dir, []string{a, b, c}
}

// compiled compiles env of the repository at dir at revision rev, as
// `cedargate build` would have.
func compiled(t *testing.T, dir, rev, env string) *build.Compiled {
	t.Helper()
	c, _, err := build.CompileRevision(t.Context(), dir, rev, env)
	if err != nil {
		t.Fatal(err)
	}
	c.Bundle.Manifest.CompilerVersion = compiler
	if _, err := bundle.Encode(c.Bundle); err != nil { // sets the digest
		t.Fatal(err)
	}
	return c
}

// decide makes real decisions with the engine on c's bundle, as the PDP
// would, and records them with the real decision log writer at logPath,
// each under the id it has in reqs.
func decide(t *testing.T, c *build.Compiled, logPath string, reqs map[string]engine.Request) {
	t.Helper()
	snap, err := engine.New(c.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	l, err := decisionlog.Open(decisionlog.Options{Path: logPath, OnFull: decisionlog.Block})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range slices.Sorted(maps.Keys(reqs)) {
		req := reqs[id]
		d := snap.Decide(&req)
		e := decisionlog.Entry{DecisionID: id, Time: req.Time, Principal: req.Principal, Action: req.Action, Resource: req.Resource,
			Allow: d.Allow, Errors: d.Errors, Bundle: c.Bundle.Ref(), Latency: 42 * time.Microsecond, Caller: "spiffe://example.org/gateway"}
		for _, r := range d.Reasons {
			e.Policies = append(e.Policies, r.ID)
		}
		l.Record(t.Context(), e)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func uid(typ, id string) types.EntityUID {
	return types.NewEntityUID(types.EntityType("App::"+typ), types.String(id))
}

// TestExplainGolden explains decisions made at commit B, after commit C
// and the work tree have changed the admins' policy: a permit, a grant,
// a default deny, a forbid, the expiry of a service account, and an
// evaluation error. The text is compared with testdata/*.golden (go test
// -update rewrites them); it shows B's lines and the commits that last
// changed them by B.
func TestExplainGolden(t *testing.T) {
	dir, commits := history(t)
	b := commits[1]
	logDir := t.TempDir()
	t.Chdir(logDir) // the golden files name the log as given, relative
	at := time.Date(2026, 11, 23, 14, 12, 43, 911648541, time.UTC)
	expired := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	decide(t, compiled(t, dir, b, "prod"), "decisions.log", map[string]engine.Request{
		"admin-writes":     {Principal: uid("User", "alice"), Action: uid("Action", "write"), Resource: uid("Service", "api"), Time: at},
		"deployer-reads":   {Principal: uid("ServiceAccount", "deployer-prod"), Action: uid("Action", "read"), Resource: uid("Service", "api"), Time: at},
		"deployer-writes":  {Principal: uid("ServiceAccount", "deployer-prod"), Action: uid("Action", "write"), Resource: uid("Service", "api"), Time: at},
		"bob-writes":       {Principal: uid("User", "bob"), Action: uid("Action", "write"), Resource: uid("Service", "api"), Time: at},
		"oncall-reads":     {Principal: uid("User", "oncall"), Action: uid("Action", "read"), Resource: uid("Service", "api"), Time: at},
		"deployer-expired": {Principal: uid("ServiceAccount", "deployer-prod"), Action: uid("Action", "read"), Resource: uid("Service", "api"), Time: expired},
	})
	tests := []struct {
		id       string
		decision string
		kinds    []string // of the determining policies
	}{
		{"admin-writes", "allow", []string{kindPolicy}},
		{"deployer-reads", "allow", []string{kindEntitlement}},
		{"deployer-writes", "deny", nil},
		{"bob-writes", "deny", []string{kindPolicy}},
		{"deployer-expired", "deny", []string{kindExpiry}},
		{"oncall-reads", "allow", []string{kindException}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			f, err := decisionlog.Find(t.Context(), "decisions.log", tt.id, decisionlog.FindOptions{})
			if err != nil {
				t.Fatal(err)
			}
			x, err := Explain(t.Context(), Options{Found: f, Repo: dir, CompilerVersion: compiler})
			if err != nil {
				t.Fatal(err)
			}
			if x.Decision.Decision != tt.decision || x.Revision.Commit != b || !x.Revision.DigestMatches || len(x.Warnings) != 0 {
				t.Fatalf("explained as %s at %s (digest matches: %v, warnings %v), want %s at %s", x.Decision.Decision, x.Revision.Commit, x.Revision.DigestMatches, x.Warnings, tt.decision, b)
			}
			var kinds []string
			for _, p := range x.Policies {
				kinds = append(kinds, p.Kind)
			}
			if strings.Join(kinds, ",") != strings.Join(tt.kinds, ",") {
				t.Fatalf("determining policies of kinds %v, want %v", kinds, tt.kinds)
			}
			if x.DefaultDeny != (tt.kinds == nil) {
				t.Fatalf("default deny %v", x.DefaultDeny)
			}
			if alice := x.Decision.Principal == `App::User::"alice"`; alice != (len(x.Errors) == 1) ||
				alice && (x.Errors[0].ID != "overflow" || !strings.Contains(x.Errors[0].Message, "overflow")) {
				t.Fatalf("errors %+v, want the overflow policy's for alice's requests only", x.Errors)
			}
			var text bytes.Buffer
			if err := WriteText(&text, x); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tt.id+".golden"), text.Bytes())
			var js bytes.Buffer
			if err := WriteJSON(&js, x); err != nil || !json.Valid(js.Bytes()) {
				t.Fatalf("JSON: %v\n%s", err, js.Bytes())
			}
		})
	}
}

// golden compares got with the file at path, relative to the package
// directory (see golden.Check).
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(wd, path))
	if err != nil {
		t.Fatal(err)
	}
	goldenpkg.Check(t, abs, got)
}

// wd is the package directory, where testdata is, taken before a test
// changes directory.
var wd, _ = os.Getwd()

// TestExplainRevisions covers the revisions a log may name: a dirty
// build, a --revision override, a build outside Git, a commit the
// repository does not have, one that does not build, a digest that does
// not match, a policy the revision does not have, and a repository that
// is not in Git.
func TestExplainRevisions(t *testing.T) {
	dir, commits := history(t)
	b := commits[1]
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	at := time.Date(2026, 11, 23, 14, 12, 43, 0, time.UTC)
	c := compiled(t, dir, b, "prod")
	decide(t, c, logPath, map[string]engine.Request{
		"bob-writes": {Principal: uid("User", "bob"), Action: uid("Action", "write"), Resource: uid("Service", "api"), Time: at},
	})
	found, err := decisionlog.Find(t.Context(), logPath, "bob-writes", decisionlog.FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// digestAs is the digest of B's bundle built with the revision rev.
	digestAs := func(rev string) string {
		bb := *c.Bundle
		bb.Manifest.Revision, bb.Manifest.CompilerVersion = rev, compiler
		d, err := bundle.ComputeDigest(&bb)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	srcPrefix := strings.TrimPrefix(c.Repo.SourceDigest, "sha256:")[:12]
	root := filepath.Dir(dir)
	writeFile(t, filepath.Join(dir, "identities", "broken.yaml"), "kind: User\nname: eve\ngroups: [no-such-group]\n")
	gittest.Run(t, root, "dave", "2026-11-24T00:00:00Z", "add", "-A")
	gittest.Run(t, root, "dave", "2026-11-24T00:00:00Z", "commit", "-qm", "Break it")
	broken := gittest.Run(t, root, "dave", "2026-11-24T00:00:00Z", "rev-parse", "HEAD")

	tests := []struct {
		name     string
		rev      string // the logged revision; "" keeps B
		digest   string // the logged digest; "" keeps B's
		policies []string
		env      string // the logged environment; "" keeps prod
		repo     string // "" is dir
		override string // Options.Revision
		compiler string // "" is compiler
		err      string // the error, or
		warn     string // a warning, "" for none
		matches  bool   // whether the digest matches
		dirty    bool
	}{
		{name: "the logged commit", matches: true},
		{name: "a dirty build of the commit's files", rev: b + "-dirty-" + srcPrefix, digest: digestAs(b + "-dirty-" + srcPrefix), matches: true, dirty: true},
		{name: "a dirty build of other files", rev: b + "-dirty-0123456789ab",
			warn: "built from a work tree with uncommitted changes on top of " + b[:12], dirty: true},
		{name: "another cedargate", compiler: "cedargate v9", warn: `the revision rebuilds to digest `},
		{name: "a --revision override", rev: "r1", err: `the decision's bundle revision "r1" is not a Git commit (a build with --revision?); pass --revision`},
		{name: "a --revision override read at its commit", rev: "r1", digest: digestAs("r1"), override: b[:10], matches: true,
			warn: "read at --revision " + b[:10] + " (" + b[:12] + "), not at the logged revision r1"},
		{name: "a build outside Git", rev: "src-" + strings.Repeat("ab", 20), err: "was built outside Git"},
		{name: "a commit the repository does not have", rev: strings.Repeat("0", 40), err: "revision " + strings.Repeat("0", 40) + " does not exist in the Git repository of"},
		{name: "a commit that does not build", rev: broken, err: "revision " + broken + " (" + broken[:12] + ") does not build: identities/broken.yaml:3"},
		{name: "a policy the revision does not have", policies: []string{"no-such-policy"}, matches: true, warn: `policy "no-such-policy" is not in the bundle rebuilt at ` + b[:12]},
		{name: "a repository outside Git", repo: t.TempDir(), err: "is not in a Git work tree"},
		{name: "an environment the revision does not declare", env: "staging", err: `the decision's bundle environment "staging" is not one the repository declares at revision ` + b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := found
			if tt.rev != "" {
				f.Entry.Bundle.Revision = tt.rev
			}
			if tt.digest != "" {
				f.Entry.Bundle.Digest = tt.digest
			}
			if tt.policies != nil {
				f.Entry.Policies = tt.policies
			}
			if tt.env != "" {
				f.Entry.Bundle.Environment = tt.env
			}
			opts := Options{Found: f, Repo: dir, Revision: tt.override, CompilerVersion: compiler}
			if tt.repo != "" {
				opts.Repo = tt.repo
			}
			if tt.compiler != "" {
				opts.CompilerVersion = tt.compiler
			}
			x, err := Explain(t.Context(), opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Explain: %v, want an error saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if x.Revision.Commit != b || x.Revision.DigestMatches != tt.matches || x.Revision.Dirty != tt.dirty {
				t.Fatalf("revision %+v, want commit %s, digest matching %v, dirty %v", x.Revision, b, tt.matches, tt.dirty)
			}
			switch {
			case tt.warn == "" && len(x.Warnings) > 0:
				t.Fatalf("warnings %q, want none", x.Warnings)
			case tt.warn != "" && (len(x.Warnings) != 1 || !strings.Contains(x.Warnings[0], tt.warn)):
				t.Fatalf("warnings %q, want one saying %q", x.Warnings, tt.warn)
			}
		})
	}
}

// TestExplainWithoutEnvironments explains a decision of a plain Cedar
// repository that declares no environments: its bundles' environment is
// "default", which is no --env to build.
func TestExplainWithoutEnvironments(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cedargate.yaml"), "name: plain\n")
	writeFile(t, filepath.Join(dir, "policies", "all.cedar"), "permit (principal, action, resource);\n")
	gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "init", "-q")
	gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "add", "-A")
	gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "commit", "-qm", "Allow everything")
	rev := gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "rev-parse", "HEAD")
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	c := compiled(t, dir, rev, "")
	if c.Bundle.Manifest.Environment != "default" {
		t.Fatalf("environment %q, want default", c.Bundle.Manifest.Environment)
	}
	req := engine.Request{Principal: types.NewEntityUID("User", "u"), Action: types.NewEntityUID("Action", "a"), Resource: types.NewEntityUID("Doc", "d"), Time: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
	decide(t, c, logPath, map[string]engine.Request{"plain": req})
	f, err := decisionlog.Find(t.Context(), logPath, "plain", decisionlog.FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x, err := Explain(t.Context(), Options{Found: f, Repo: dir, CompilerVersion: compiler})
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Policies) != 1 || x.Policies[0].ID != "policies/all.cedar#0" || len(x.Policies[0].Sources) != 1 ||
		x.Policies[0].Sources[0].Text != "permit (principal, action, resource);" || !x.Revision.DigestMatches {
		t.Fatalf("explained as %+v", x)
	}
}

// TestExplainDirtyBuilds builds with `build --allow-dirty`'s pipeline
// (build.Build) from a work tree with an untracked file the repository
// does not read, then with a modified policy: the first rebuilds to the
// logged digest at its commit, the second is explained at its commit
// with a warning.
func TestExplainDirtyBuilds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "identity")
	if err := build.Init(dir, build.InitOptions{Name: "acme", Now: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	const date = "2026-11-20T09:00:00Z"
	gittest.Run(t, dir, "alice", date, "init", "-q")
	gittest.Run(t, dir, "alice", date, "add", "-A")
	gittest.Run(t, dir, "alice", date, "commit", "-qm", "Scaffold")
	commit := gittest.Run(t, dir, "alice", date, "rev-parse", "HEAD")
	admins := filepath.Join(dir, "policies", "admins.cedar")
	policy, err := os.ReadFile(admins)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func()
		warn   string
	}{
		{"a file the repository does not read", func() { writeFile(t, filepath.Join(dir, "NOTES.md"), "todo\n") }, ""},
		{"a changed policy", func() { writeFile(t, admins, "// Changed, not committed.\n"+string(policy)) }, "built from a work tree with uncommitted changes on top of " + commit[:12]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			out, err := build.Build(t.Context(), dir, build.Options{Env: "prod", AllowDirty: true, CompilerVersion: compiler, Now: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			ref := out.Bundle.Ref()
			if !strings.HasPrefix(ref.Revision, commit+"-dirty-") {
				t.Fatalf("revision %s, want %s-dirty-…", ref.Revision, commit)
			}
			f := decisionlog.Found{File: "decisions.log", Line: 1, Entry: decisionlog.Entry{DecisionID: "d", Time: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
				Principal: uid("User", "alice"), Action: uid("Action", "write"), Resource: uid("Service", "api"), Allow: true,
				Policies: []string{"admins-manage-services"}, Bundle: ref}}
			x, err := Explain(t.Context(), Options{Found: f, Repo: dir, CompilerVersion: compiler})
			if err != nil {
				t.Fatal(err)
			}
			if x.Revision.Commit != commit || !x.Revision.Dirty || x.Revision.DigestMatches != (tt.warn == "") {
				t.Fatalf("revision %+v, want commit %s, dirty, digest matching %v", x.Revision, commit, tt.warn == "")
			}
			if tt.warn == "" && len(x.Warnings) > 0 || tt.warn != "" && (len(x.Warnings) != 1 || !strings.Contains(x.Warnings[0], tt.warn)) {
				t.Fatalf("warnings %q, want %q", x.Warnings, tt.warn)
			}
			if src := x.Policies[0].Sources[0].Text; !strings.HasPrefix(src, "// Administrators may read and write every service.") {
				t.Fatalf("the policy as explained:\n%s\nwant the commit's", src)
			}
		})
	}
}
