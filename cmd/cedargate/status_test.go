package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cedargate/cedargate/bundle"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// documentedStatusJSON returns the example of `status --json` in
// docs/cli.md: the first json block of the `cedargate status` section.
func documentedStatusJSON(t *testing.T) map[string]any {
	t.Helper()
	return documentedJSON(t, "cedargate status")
}

// documentedJSON returns the first json block of command's section of
// docs/cli.md.
func documentedJSON(t *testing.T, command string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(cliDoc)
	if err != nil {
		t.Fatal(err)
	}
	sec := parseCLIDoc(t, string(data))[command]
	if sec == nil {
		t.Fatalf("%s has no %s section", cliDoc, command)
	}
	_, rest, ok := strings.Cut(sec.text, "\n```json\n")
	if !ok {
		t.Fatalf("%s: the %s section has no json example", cliDoc, command)
	}
	block, _, _ := strings.Cut(rest, "\n```\n")
	var doc map[string]any
	if err := json.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("%s: the json example of %s is not JSON: %v", cliDoc, command, err)
	}
	return doc
}

// shapeDiff lists where got's shape differs from doc's: a key of got that
// doc lacks, a value of another JSON type, and (when all is set) a key of
// doc that got lacks. Arrays compare their first elements.
func shapeDiff(doc, got any, path string, all bool) []string {
	if fmt.Sprintf("%T", doc) != fmt.Sprintf("%T", got) {
		return []string{fmt.Sprintf("%s: documented as %T, printed as %T", path, doc, got)}
	}
	var out []string
	switch d := doc.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, v := range g {
			dv, ok := d[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: printed but not documented", path, k))
				continue
			}
			out = append(out, shapeDiff(dv, v, path+"."+k, all)...)
		}
		for k := range d {
			if _, ok := g[k]; !ok && all {
				out = append(out, fmt.Sprintf("%s.%s: documented but not printed", path, k))
			}
		}
	case []any:
		g := got.([]any)
		if len(d) > 0 && len(g) > 0 {
			out = append(out, shapeDiff(d[0], g[0], path+"[0]", all)...)
		}
	}
	slices.Sort(out)
	return out
}

// fullStatus is a status with every field set, as a replica with a
// decision log and a staleness limit reports it.
func fullStatus() *pb.GetStatusResponse {
	at := timestamppb.New(time.Date(2026, 11, 23, 14, 0, 37, 0, time.UTC))
	ref := &pb.BundleRef{Revision: "r1", Digest: "sha256:00", Environment: "prod"}
	return &pb.GetStatusResponse{
		Bundle: ref, ActivationTime: at, Serving: true, Source: "dir:/s", Version: "dev", Hostname: "h", StartTime: at,
		Build: &pb.BundleBuildInfo{CompilerVersion: "cedargate dev", BuildTime: at, EntityCount: 1, PolicyCount: 2, GrantCount: 1, EarliestExpiry: at},
		SourceStatus: &pb.SourceStatus{LastSuccessTime: at, LastErrorTime: at, LastError: "e", ErrorCount: 2,
			MaxStaleness: durationpb.New(5 * time.Minute), Stale: true, Target: ref},
		LastFailedActivation: &pb.Activation{Bundle: &pb.BundleRef{Revision: "r0"}, Time: at,
			Result: pb.ActivationResult_ACTIVATION_RESULT_FAILURE, Error: "broken", Duration: durationpb.New(time.Millisecond)},
		RecentActivations: []*pb.Activation{{Bundle: ref, Time: at, Result: pb.ActivationResult_ACTIVATION_RESULT_SUCCESS, Duration: durationpb.New(3 * time.Millisecond)}},
		DecisionLog:       &pb.DecisionLogStatus{Path: "/l", Sync: true, Written: 3, LastError: "disk full", LastErrorTime: at, Losing: true},
		RequestEntities:   pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_MERGE_ATTRIBUTES,
	}
}

// TestStatusTextShowsHealth checks the lines status prints for the
// source's health, the decision log and the request-entity mode.
func TestStatusTextShowsHealth(t *testing.T) {
	var b strings.Builder
	printStatus(&b, fullStatus())
	for _, want := range []string{
		"\nsource reads: last success 2026-11-23T14:00:37Z; names " + fullStatus().GetBundle().GetRevision() + " (" + bundle.ShortDigest(fullStatus().GetBundle().GetDigest()) + "); 2 errors, the last at 2026-11-23T14:00:37Z: e; max staleness 5m0s, STALE (not serving)\n",
		"\ndecision log: /l (sync): 3 written, 0 dropped, 0 write errors, LOSING ENTRIES; last error at 2026-11-23T14:00:37Z: disk full\n",
		"\nrequest entities: merge-attributes\n",
		"\nlast failure: r0 at 2026-11-23T14:00:37Z: broken\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

// TestStatusJSONMatchesDocs holds `cedargate status --json` to the example
// in docs/cli.md, both ways: a status with every field reported prints
// exactly the documented keys, with the documented JSON types; and the
// real binary, asked about a real PDP, prints nothing undocumented.
func TestStatusJSONMatchesDocs(t *testing.T) {
	doc := documentedStatusJSON(t)
	full := fullStatus()
	data, err := json.Marshal(newStatusJSON(full))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	// The example shows a healthy decision log; the full status has an
	// error, whose two keys the documentation lists as left out when
	// there is none.
	delete(got["decision_log"].(map[string]any), "last_error")
	delete(got["decision_log"].(map[string]any), "last_error_time")
	if diff := shapeDiff(doc, got, "", true); len(diff) > 0 {
		t.Errorf("a full status differs from the example in %s:\n%s", cliDoc, strings.Join(diff, "\n"))
	}
	if got["request_entities"] != "merge-attributes" || got["recent_activations"].([]any)[0].(map[string]any)["result"] != "success" ||
		got["source_status"].(map[string]any)["max_staleness"] != "5m0s" {
		t.Errorf("values: %s", data)
	}

	dir := scaffoldToday(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--activate", "--revision", "r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	s := serve(t, "--store", storeDir, "--decision-log", "")
	r := cedargate(t, "status", "--addr", s.addr, "--json")
	if r.code != 0 {
		t.Fatalf("status --json: %+v", r)
	}
	var real map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &real); err != nil {
		t.Fatalf("status --json printed %q: %v", r.stdout, err)
	}
	if diff := shapeDiff(doc, real, "", false); len(diff) > 0 {
		t.Errorf("the real status --json differs from the example in %s:\n%s\n%s", cliDoc, strings.Join(diff, "\n"), r.stdout)
	}
	for _, k := range []string{"serving", "bundle", "activation_time", "build", "source", "recent_activations", "request_entities", "version", "hostname", "start_time"} {
		if _, ok := real[k]; !ok {
			t.Errorf("the real status --json lacks %q:\n%s", k, r.stdout)
		}
	}
	if real["serving"] != true || real["bundle"].(map[string]any)["revision"] != "r1" || real["request_entities"] != "refuse-shadowing" {
		t.Errorf("the real status --json says:\n%s", r.stdout)
	}
}
