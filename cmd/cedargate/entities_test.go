package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRequestEntities runs the real binary: by default a request
// entity that shadows a bundle identity (the deployer sent with the admins
// group as parent, to write what only admins write) is refused and
// `status` says why; `--request-entities replace` brings back the old
// behaviour, escalation included; an unknown mode is a usage error.
func TestServeRequestEntities(t *testing.T) {
	dir := scaffoldToday(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--activate", "--revision", "r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	escalate := []string{"check", "--principal", `App::ServiceAccount::"deployer-prod"`, "--action", `App::Action::"write"`,
		"--resource", `App::Service::"api"`, "--entities",
		`[{"uid": {"type": "App::ServiceAccount", "id": "deployer-prod"}, "parents": [{"type": "App::Group", "id": "admins"}], "attrs": {}}]`}

	def := serve(t, "--store", storeDir, "--decision-log", "")
	r := cedargate(t, append(escalate, "--addr", def.addr)...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "InvalidArgument") ||
		!strings.Contains(r.stderr, `entities[0]: App::ServiceAccount::"deployer-prod" is defined by the bundle`) {
		t.Fatalf("escalation against the default: %+v", r)
	}
	if st := cedargate(t, "status", "--addr", def.addr); st.code != 0 || !strings.Contains(st.stdout, "\nrequest entities: refuse-shadowing\n") {
		t.Fatalf("status of the default: %+v", st)
	}

	replace := serve(t, "--store", storeDir, "--decision-log", "", "--request-entities", "replace")
	r = cedargate(t, append(escalate, "--addr", replace.addr)...)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "ALLOW\n") || !strings.Contains(r.stdout, "by admins-manage-services") {
		t.Fatalf("escalation with --request-entities replace: %+v", r)
	}
	if st := cedargate(t, "status", "--addr", replace.addr); st.code != 0 || !strings.Contains(st.stdout, "\nrequest entities: replace\n") {
		t.Fatalf("status with replace: %+v", st)
	}

	if r := cedargate(t, "serve", "--store", storeDir, "--request-entities", "merge"); r.code != exitUsage ||
		!strings.Contains(r.stderr, "--request-entities: request-entity mode must be refuse-shadowing, merge-attributes or replace") {
		t.Fatalf("an unknown mode: %+v", r)
	}
}

// TestDecisionTestsRefuseShadowing checks that a decision test whose
// entities shadow a bundle identity fails, naming the uid at the
// position of its entities, as the default PDP would refuse the request.
func TestDecisionTestsRefuseShadowing(t *testing.T) {
	dir := scaffold(t)
	apply(t, dir, edit{file: "tests/api.yaml", new: `  - name: the deployer pretends to be an admin
    principal: ServiceAccount/deployer-${env}
    action: write
    resource: Service/api
    entities:
      - uid: { type: "App::ServiceAccount", id: deployer-prod }
        parents: [{ type: "App::Group", id: admins }]
        attrs: {}
    expect: allow
`})
	r := cedargate(t, "test", dir, "--env", "prod", "--now", refDate)
	want := `tests/api.yaml:25:7: test "the deployer pretends to be an admin": entities: App::ServiceAccount::"deployer-prod" is defined by the bundle`
	if r.code != exitProblems || !strings.Contains(r.stderr, want) {
		t.Fatalf("test with a shadowing entity: %+v, want exit 1 and %q", r, want)
	}
}
