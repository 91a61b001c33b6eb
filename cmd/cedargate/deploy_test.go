package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/goccy/go-yaml"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/client"
)

// The tests in this file keep deploy/ true to the code: every cedargate
// command line in the image and the manifests parses with the real flags,
// every metric the alerts and the dashboard query is one a real server
// exports, the probes answer, the shutdown fits in the grace period, and
// every YAML and JSON file parses.

// deployDir is deploy/ at the repository root; tests run in cmd/cedargate.
const deployDir = "../../deploy"

// cedargateImage is the image repository the manifests run cedargate from.
const cedargateImage = "ghcr.io/cedargate/cedargate"

// decisionLogFlushBound is how long pdp.Server's shutdown allows the
// decision log to flush after requests in flight have finished.
const decisionLogFlushBound = pdp.FlushTimeout

// yamlDocs returns the documents of a (multi-document) YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// deployFiles lists the files under deploy/ whose names end in one of exts.
func deployFiles(t *testing.T, exts ...string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(deployDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && slices.Contains(exts, filepath.Ext(p)) {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %v files under %s", exts, deployDir)
	}
	return out
}

// deployName names a deploy file for messages and subtests.
func deployName(p string) string {
	r, err := filepath.Rel(deployDir, p)
	if err != nil {
		return p
	}
	return "deploy/" + filepath.ToSlash(r)
}

// dig walks nested maps by keys; nil when a key is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func asInt(v any) int {
	switch n := v.(type) {
	case uint64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	}
	return -1
}

// podSpec returns the pod spec of a workload document, or nil.
func podSpec(doc map[string]any) map[string]any {
	for _, p := range [][]string{
		{"spec", "template", "spec"},                        // Deployment, Job, StatefulSet, DaemonSet
		{"spec", "jobTemplate", "spec", "template", "spec"}, // CronJob
		{"spec"}, // Pod
	} {
		if m, ok := dig(doc, p...).(map[string]any); ok && m["containers"] != nil {
			return m
		}
	}
	return nil
}

// cedargateContainer is a container that runs the cedargate image.
type cedargateContainer struct {
	where string
	pod   map[string]any // the pod spec
	spec  map[string]any // the container
	args  []string
}

// cedargateContainers finds every container under deploy/kubernetes that
// runs the cedargate image, with its arguments. The image's ENTRYPOINT is
// cedargate, so a container that sets no command passes args to it.
func cedargateContainers(t *testing.T) []cedargateContainer {
	t.Helper()
	var out []cedargateContainer
	for _, f := range deployFiles(t, ".yaml", ".yml") {
		if !strings.Contains(filepath.ToSlash(f), "/kubernetes/") {
			continue
		}
		for _, doc := range yamlDocs(t, f) {
			spec := podSpec(doc)
			if spec == nil {
				continue
			}
			for _, c := range append(asList(spec["initContainers"]), asList(spec["containers"])...) {
				image := asString(dig(c, "image"))
				if image != cedargateImage && !strings.HasPrefix(image, cedargateImage+":") && !strings.HasPrefix(image, cedargateImage+"@") {
					continue
				}
				where := fmt.Sprintf("%s %s/%s", deployName(f), asString(dig(doc, "kind")), asString(dig(c, "name")))
				if dig(c, "command") != nil {
					t.Errorf("%s: sets command; the manifests rely on the image's ENTRYPOINT (cedargate)", where)
					continue
				}
				var args []string
				for _, a := range asList(dig(c, "args")) {
					args = append(args, fmt.Sprint(a))
				}
				out = append(out, cedargateContainer{where: where, pod: spec, spec: c.(map[string]any), args: args})
			}
		}
	}
	return out
}

// parseCommandLine parses args as the cedargate binary would, without
// running the command: the subcommand must exist, every flag must be one
// of its flags with a valid value, and the positional arguments must fit.
func parseCommandLine(args []string) error {
	if len(args) == 0 {
		return errors.New("no arguments: the image's ENTRYPOINT would print help")
	}
	root := newRoot(io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root {
		return fmt.Errorf("%q is not a cedargate command", args[0])
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return cmd.ValidateArgs(cmd.Flags().Args())
}

// flagValue returns the value of --name in args (--name=v or --name v).
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// dockerfile returns the arguments of a JSON-form instruction and the
// whole text of deploy/Dockerfile.
func dockerfile(t *testing.T, instruction string) ([]string, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), instruction+" ")
		if !ok {
			continue
		}
		found = nil
		if err := json.Unmarshal([]byte(rest), &found); err != nil {
			t.Fatalf("deploy/Dockerfile: %s must use the JSON (exec) form, so no shell is needed: %v", instruction, err)
		}
	}
	if found == nil {
		t.Fatalf("deploy/Dockerfile has no %s", instruction)
	}
	return found, string(data)
}

func TestDeployCommandLinesParse(t *testing.T) {
	entry, text := dockerfile(t, "ENTRYPOINT")
	cmd, _ := dockerfile(t, "CMD")
	if filepath.Base(entry[0]) != "cedargate" || len(entry) != 1 {
		t.Errorf("deploy/Dockerfile: ENTRYPOINT %v, want the cedargate binary alone (the manifests pass only args)", entry)
	}
	t.Run("deploy/Dockerfile CMD", func(t *testing.T) {
		if err := parseCommandLine(cmd); err != nil {
			t.Errorf("%v: %v", cmd, err)
		}
	})
	for _, c := range cedargateContainers(t) {
		t.Run(c.where, func(t *testing.T) {
			if err := parseCommandLine(c.args); err != nil {
				t.Errorf("%v: %v", c.args, err)
			}
		})
	}

	// The version is linked in as the Makefile does it; a wrong -X path is
	// silently ignored by the linker, so compare the two.
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	x := regexp.MustCompile(`-X (\S+)=`).FindStringSubmatch(string(mk))
	if x == nil {
		t.Fatal("Makefile: no -X ldflag")
	}
	if !strings.Contains(text, "-X "+x[1]+"=") {
		t.Errorf("deploy/Dockerfile does not link the version as the Makefile does (-X %s=...)", x[1])
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "EXPOSE 9191 9192"} {
		if !strings.Contains(text, want) {
			t.Errorf("deploy/Dockerfile lacks %q", want)
		}
	}
}

// serveContainers are the containers that run `cedargate serve`.
func serveContainers(t *testing.T) []cedargateContainer {
	t.Helper()
	var out []cedargateContainer
	for _, c := range cedargateContainers(t) {
		if len(c.args) > 0 && c.args[0] == "serve" {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatal("no container under deploy/kubernetes runs cedargate serve")
	}
	return out
}

// TestDeployServeContainer checks what the serve container's flags imply
// about the rest of its spec: ports, probes and the shutdown budget.
func TestDeployServeContainer(t *testing.T) {
	for _, c := range serveContainers(t) {
		t.Run(c.where, func(t *testing.T) { checkServeContainer(t, c) })
	}
}

func checkServeContainer(t *testing.T, sc cedargateContainer) {
	pod, c, args := sc.pod, sc.spec, sc.args
	ports := map[string]int{}
	for _, p := range asList(c["ports"]) {
		ports[asString(dig(p, "name"))] = asInt(dig(p, "containerPort"))
	}
	for flag, port := range map[string]string{"listen": "grpc", "metrics-listen": "metrics"} {
		v, ok := flagValue(args, flag)
		if !ok {
			t.Errorf("serve without --%s listens on loopback only: the pod would be unreachable", flag)
			continue
		}
		_, p, err := net.SplitHostPort(v)
		if n, _ := strconv.Atoi(p); err != nil || n != ports[port] || n == 0 {
			t.Errorf("--%s=%s, but the container port named %q is %d", flag, v, port, ports[port])
		}
	}
	for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
		if p := dig(c, probe, "httpGet", "port"); p != nil {
			if _, ok := ports[fmt.Sprint(p)]; !ok {
				t.Errorf("%s uses port %v, which the container does not name", probe, p)
			}
		}
	}
	if asString(dig(c, "readinessProbe", "httpGet", "path")) != "/readyz" {
		t.Errorf("readinessProbe is not /readyz: readiness must follow the active bundle")
	}

	// Shutdown: preStop, then --shutdown-timeout for requests in flight,
	// then the decision log flush; the kubelet kills at the grace period.
	grace := asInt(pod["terminationGracePeriodSeconds"])
	if grace < 0 {
		grace = 30 // the Kubernetes default
	}
	shutdown := 15 * time.Second // serve's default
	if v, ok := flagValue(args, "shutdown-timeout"); ok {
		var err error
		if shutdown, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	preStop := time.Duration(max(asInt(dig(c, "lifecycle", "preStop", "sleep", "seconds")), 0)) * time.Second
	if need := preStop + shutdown + decisionLogFlushBound; time.Duration(grace)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %d is not more than preStop %v + --shutdown-timeout %v + decision log flush %v = %v",
			grace, preStop, shutdown, decisionLogFlushBound, need)
	}
}

func TestDeployFilesParse(t *testing.T) {
	for _, f := range deployFiles(t, ".yaml", ".yml") {
		t.Run(deployName(f), func(t *testing.T) {
			if len(yamlDocs(t, f)) == 0 {
				t.Errorf("no YAML document")
			}
		})
	}
	for _, f := range deployFiles(t, ".json") {
		t.Run(deployName(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(data) {
				var v any
				t.Errorf("invalid JSON: %v", json.Unmarshal(data, &v))
			}
		})
	}
}

// TestDeployPrometheusRuleMatchesAlerts keeps the PrometheusRule the
// Kubernetes component applies equal to the plain rules file.
func TestDeployPrometheusRuleMatchesAlerts(t *testing.T) {
	alerts := yamlDocs(t, filepath.Join(deployDir, "prometheus", "alerts.yaml"))[0]
	rule := yamlDocs(t, filepath.Join(deployDir, "kubernetes", "monitoring", "prometheusrule.yaml"))[0]
	if !reflect.DeepEqual(alerts["groups"], dig(rule, "spec", "groups")) {
		t.Error("deploy/kubernetes/monitoring/prometheusrule.yaml spec.groups differ from deploy/prometheus/alerts.yaml groups: copy them over")
	}
}

// promQuery is one PromQL expression found in deploy/, and where.
type promQuery struct{ where, expr string }

// deployQueries collects the PromQL expressions of the alerting rules and
// the dashboards.
func deployQueries(t *testing.T) []promQuery {
	t.Helper()
	var qs []promQuery
	for _, f := range deployFiles(t, ".yaml") {
		if !strings.Contains(filepath.ToSlash(f), "/prometheus/") && !strings.HasSuffix(f, "prometheusrule.yaml") {
			continue
		}
		for _, doc := range yamlDocs(t, f) {
			groups := doc["groups"]
			if groups == nil {
				groups = dig(doc, "spec", "groups")
			}
			for _, g := range asList(groups) {
				for _, r := range asList(dig(g, "rules")) {
					name := asString(dig(r, "alert")) + asString(dig(r, "record"))
					qs = append(qs, promQuery{deployName(f) + " " + name, asString(dig(r, "expr"))})
				}
			}
		}
	}
	for _, f := range deployFiles(t, ".json") {
		if !strings.Contains(filepath.ToSlash(f), "/grafana/") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var dash any
		if err := json.Unmarshal(data, &dash); err != nil {
			t.Fatalf("%s: %v", deployName(f), err)
		}
		walkJSON(dash, "", func(where, key string, v any) {
			switch {
			case key == "expr":
				qs = append(qs, promQuery{deployName(f) + " " + where, asString(v)})
			case key == "query" || key == "definition":
				// A template variable: label_values(SELECTOR, LABEL).
				if m := labelValuesRE.FindStringSubmatch(asString(v)); m != nil {
					qs = append(qs, promQuery{deployName(f) + " " + where, m[1]})
				}
			}
		})
	}
	if len(qs) == 0 {
		t.Fatal("no PromQL expressions found under deploy/")
	}
	return qs
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)

// walkJSON calls fn for every key of every object in v; where names the
// enclosing panel by title.
func walkJSON(v any, where string, fn func(where, key string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		if title, ok := v["title"].(string); ok {
			where = strconv.Quote(title)
		}
		for k, x := range v {
			fn(where, k, x)
			walkJSON(x, where, fn)
		}
	case []any:
		for _, x := range v {
			walkJSON(x, where, fn)
		}
	}
}

// exposition is what a server's /metrics exposes: series names with the label
// names each carries.
type exposition map[string]map[string]bool

// parseExposition reads the Prometheus text format.
func parseExposition(t *testing.T, text string) exposition {
	t.Helper()
	s := exposition{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		if s[name] == nil {
			s[name] = map[string]bool{}
		}
		if strings.Contains(line, "{") {
			for _, m := range expositionLabelRE.FindAllStringSubmatch(rest, -1) {
				s[name][m[1]] = true
			}
		}
	}
	return s
}

var expositionLabelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)

// targetLabels are added by Prometheus when it scrapes (job, instance) or by
// the Prometheus Operator's service discovery and external labels; a query
// may use them although /metrics does not show them.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint", "cluster"}

// promSyntheticSeries are made by Prometheus itself for every target.
var promSyntheticSeries = []string{"up"}

// promSelector is one vector promSelector of a PromQL expression.
type promSelector struct {
	name   string
	labels []string
}

var (
	promStringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promGrafanaVar = regexp.MustCompile(`\$\{?\w+\}?`)
	promRangeRE    = regexp.MustCompile(`\[[^\]]*\]`)
	promGroupingRE = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promMatcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	promKeywords   = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "Inf", "NaN"}
)

// selectors returns the vector selectors of a PromQL expression: the
// identifiers that are not functions, keywords, numbers, durations,
// grouping labels or matcher labels. It is a scanner, not a parser, which
// is enough for the queries we write; promtool checks the syntax.
func promSelectors(expr string) []promSelector {
	expr = promStringRE.ReplaceAllString(expr, `""`)
	expr = promGrafanaVar.ReplaceAllString(expr, "")
	expr = promRangeRE.ReplaceAllString(expr, "")
	expr = promGroupingRE.ReplaceAllString(expr, "")
	var out []promSelector
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case '0' <= c && c <= '9' || c == '.':
			// A number (0.99, 1e-3) or a duration (5m): skip it whole.
			for i < len(expr) && (isIdent(expr[i], false) || expr[i] == '.') {
				i++
			}
		case c == '{':
			// A promSelector without a metric name.
			end := strings.IndexByte(expr[i:], '}')
			if end < 0 {
				return out
			}
			i += end + 1
		case isIdent(c, true):
			start := i
			for i < len(expr) && isIdent(expr[i], false) {
				i++
			}
			name := expr[start:i]
			j := i
			for j < len(expr) && expr[j] == ' ' {
				j++
			}
			if j < len(expr) && expr[j] == '(' || slices.Contains(promKeywords, name) {
				continue // a function, an aggregation or a keyword
			}
			sel := promSelector{name: name}
			if j < len(expr) && expr[j] == '{' {
				end := strings.IndexByte(expr[j:], '}')
				if end < 0 {
					return append(out, sel)
				}
				for _, m := range promMatcherRE.FindAllStringSubmatch(expr[j:j+end], -1) {
					sel.labels = append(sel.labels, m[1])
				}
				i = j + end + 1
			}
			out = append(out, sel)
		default:
			i++
		}
	}
	return out
}

func TestPromQLSelectors(t *testing.T) {
	tests := []struct {
		expr string
		want []promSelector
	}{
		{`histogram_quantile(0.99, sum by (le) (rate(cedargate_decision_duration_seconds_bucket{job=~"$job"}[$__rate_interval]))) > 0.005`,
			[]promSelector{{"cedargate_decision_duration_seconds_bucket", []string{"job"}}}},
		{`count by (a, b) (count by (a, b, revision) (cedargate_bundle_info == 1)) > 1`,
			[]promSelector{{"cedargate_bundle_info", nil}}},
		{`increase(x{result="failure", l!="a,b}"}[15m]) > 0 and on (instance) up offset 5m`,
			[]promSelector{{"x", []string{"result", "l"}}, {"up", nil}}},
		{`time() - y * 1e3`, []promSelector{{"y", nil}}},
	}
	for _, tt := range tests {
		if got := promSelectors(tt.expr); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("promSelectors(%s)\n got %v\nwant %v", tt.expr, got, tt.want)
		}
	}
}

// TestDeployProbesAndMetrics starts a real PDP on loopback serving a store
// built here, makes a decision, and checks that the probe paths of the
// manifests answer 200 and that every series the alerts and dashboards
// query is one the server exports, with the labels they match on.
func TestDeployProbesAndMetrics(t *testing.T) {
	srv := startDeployPDP(t)
	base := "http://" + srv.MetricsAddr().String()

	for _, c := range serveContainers(t) {
		for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
			p := asString(dig(c.spec, probe, "httpGet", "path"))
			if p == "" {
				continue
			}
			resp, err := http.Get(base + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s: GET %s with an active bundle: %s", c.where, probe, p, resp.Status)
			}
		}
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	exported := parseExposition(t, string(body))
	for _, q := range deployQueries(t) {
		sels := promSelectors(q.expr)
		if len(sels) == 0 {
			t.Errorf("%s: no metric in %q", q.where, q.expr)
		}
		for _, s := range sels {
			labels, ok := exported[s.name]
			if !ok && !slices.Contains(promSyntheticSeries, s.name) {
				t.Errorf("%s: %s is not a series cedargate serve exports", q.where, s.name)
				continue
			}
			for _, l := range s.labels {
				if !labels[l] && !slices.Contains(targetLabels, l) {
					t.Errorf("%s: %s has no label %q", q.where, s.name, l)
				}
			}
		}
	}
}

// startDeployPDP serves a one-policy store from a pdp.Server on loopback
// ports, after one decision, until the test ends.
func startDeployPDP(t *testing.T) *pdp.Server {
	t.Helper()
	repoDir := filepath.Join(t.TempDir(), "repo")
	for name, content := range map[string]string{
		"schema.cedarschema": `namespace App { entity User; entity Doc; action read appliesTo { principal: User, resource: Doc }; }`,
		"policies/read.cedar": `@id("alice-reads")
permit (principal == App::User::"alice", action == App::Action::"read", resource is App::Doc);
`,
	} {
		p := filepath.Join(repoDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := build.Build(t.Context(), repoDir, build.Options{Revision: "r1", CompilerVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Create(t.Context(), filepath.Join(t.TempDir(), "store"), out.Bundle.Manifest.Environment)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), out.Archive); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(t.Context(), "r1", store.ActionBuild, time.Now()); err != nil {
		t.Fatal(err)
	}
	srv, err := pdp.New(pdp.Options{Source: st, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	conn, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	d, err := client.New(conn).Authorize(actx, client.Request{
		Principal: types.NewEntityUID("App::User", "alice"),
		Action:    types.NewEntityUID("App::Action", "read"),
		Resource:  types.NewEntityUID("App::Doc", "plan"),
	})
	if err != nil || !d.Allow {
		t.Fatalf("Authorize: %+v, %v", d, err)
	}
	return srv
}

// TestDeployWatchesDecisionQuality checks that the metrics that say a
// decision went wrong without failing (a policy that errors, an entity
// nobody defines) each have an alerting rule and a dashboard panel:
// without them nobody looks. TestDeployProbesAndMetrics checks that the
// queries name series the server exports.
func TestDeployWatchesDecisionQuality(t *testing.T) {
	watched := []string{"cedargate_decision_errors_total", "cedargate_unknown_entities_total"}
	alerted, charted := map[string]bool{}, map[string]bool{}
	for _, q := range deployQueries(t) {
		for _, s := range promSelectors(q.expr) {
			switch {
			case strings.HasPrefix(q.where, "deploy/prometheus/alerts.yaml "):
				alerted[s.name] = true
			case strings.HasPrefix(q.where, "deploy/grafana/"):
				charted[s.name] = true
			}
		}
	}
	for _, m := range watched {
		if !alerted[m] {
			t.Errorf("no alert in deploy/prometheus/alerts.yaml queries %s", m)
		}
		if !charted[m] {
			t.Errorf("no panel in deploy/grafana queries %s", m)
		}
	}
}

// TestOperationsDocListsEveryMetric keeps the metrics table of
// docs/operations.md true to the server: every cedargate_ metric a real
// server exports is in it, and every cedargate_ metric it lists is
// exported (but for the ext_authz adapter's and the AuthZEN API's, which
// this server does not run).
func TestOperationsDocListsEveryMetric(t *testing.T) {
	srv := startDeployPDP(t)
	resp, err := http.Get("http://" + srv.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for name := range parseExposition(t, string(body)) {
		if strings.HasPrefix(name, "cedargate_") {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && strings.HasSuffix(base, "_seconds") {
					name = base
				}
			}
			exported[name] = true
		}
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(cedargate_[a-z_]+)").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	for name := range exported {
		if !documented[name] {
			t.Errorf("%s is exported but not in the metrics table of docs/operations.md", name)
		}
	}
	for name := range documented {
		if !exported[name] && !strings.HasPrefix(name, "cedargate_extauthz_") && !strings.HasPrefix(name, "cedargate_authzen_") {
			t.Errorf("docs/operations.md lists %s, which the server does not export", name)
		}
	}
}
