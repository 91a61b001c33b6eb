package main

import (
	"io"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// The tests in this file check what every pod under deploy/kubernetes
// promises about its security, and that the drift CronJob is wired as its
// flags say: each file drift reads is written by an init container into a
// volume the two share, the token comes from a Secret, the RBAC it holds
// is exactly what its kubectl reads, and the Job fails on drift found.

// deployPod is a pod spec found under deploy/kubernetes, with the
// document that holds it.
type deployPod struct {
	where string
	doc   map[string]any
	spec  map[string]any
}

func deployPods(t *testing.T) []deployPod {
	t.Helper()
	var out []deployPod
	// Strategic-merge patches (a kustomize component's patches: path:)
	// hold part of a pod; the pod they patch is checked whole.
	patches := map[string]bool{}
	for _, f := range deployFiles(t, ".yaml", ".yml") {
		if filepath.Base(f) != "kustomization.yaml" {
			continue
		}
		for _, doc := range yamlDocs(t, f) {
			for _, p := range asList(doc["patches"]) {
				if path := asString(dig(p, "path")); path != "" {
					patches[filepath.Join(filepath.Dir(f), path)] = true
				}
			}
		}
	}
	for _, f := range deployFiles(t, ".yaml", ".yml") {
		if !strings.Contains(f, "/kubernetes/") || patches[f] {
			continue
		}
		for _, doc := range yamlDocs(t, f) {
			if spec := podSpec(doc); spec != nil {
				out = append(out, deployPod{where: deployName(f) + " " + asString(doc["kind"]), doc: doc, spec: spec})
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no pod specs under deploy/kubernetes")
	}
	return out
}

// TestDeployPodsHardened checks every pod under deploy/kubernetes: non-root
// with the runtime's seccomp profile and no service account token mounted
// by default, and in every container no privilege escalation, a read-only
// root filesystem, no capabilities, and an image pinned by tag or digest.
func TestDeployPodsHardened(t *testing.T) {
	for _, p := range deployPods(t) {
		t.Run(p.where, func(t *testing.T) {
			if dig(p.spec, "securityContext", "runAsNonRoot") != true {
				t.Error("securityContext.runAsNonRoot is not true")
			}
			if asString(dig(p.spec, "securityContext", "seccompProfile", "type")) != "RuntimeDefault" {
				t.Error("securityContext.seccompProfile.type is not RuntimeDefault")
			}
			if p.spec["automountServiceAccountToken"] != false {
				t.Error("automountServiceAccountToken is not false: mount a projected token into the container that needs one")
			}
			for _, c := range append(asList(p.spec["initContainers"]), asList(p.spec["containers"])...) {
				name := asString(dig(c, "name"))
				if dig(c, "securityContext", "allowPrivilegeEscalation") != false ||
					dig(c, "securityContext", "readOnlyRootFilesystem") != true ||
					!slices.Equal(asList(dig(c, "securityContext", "capabilities", "drop")), []any{"ALL"}) {
					t.Errorf("container %s: securityContext lacks allowPrivilegeEscalation: false, readOnlyRootFilesystem: true or capabilities.drop: [ALL]", name)
				}
				if image := asString(dig(c, "image")); !pinnedImage(image) {
					t.Errorf("container %s: image %q is not pinned by a tag (other than latest) or a digest", name, image)
				}
			}
		})
	}
}

// pinnedImage reports whether image names a tag other than latest, or a
// digest.
func pinnedImage(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	return ok && tag != "" && tag != "latest"
}

// TestDeployKustomizationsPinOneImage keeps the cedargate tag of every
// kustomization the same, so the drift CronJob runs the PDP's binary.
func TestDeployKustomizationsPinOneImage(t *testing.T) {
	tags := map[string]string{}
	for _, f := range deployFiles(t, ".yaml") {
		if path.Base(f) != "kustomization.yaml" {
			continue
		}
		for _, img := range asList(yamlDocs(t, f)[0]["images"]) {
			if asString(dig(img, "name")) == cedargateImage {
				tags[deployName(f)] = asString(dig(img, "newTag")) + asString(dig(img, "digest"))
			}
		}
	}
	if len(tags) < 2 {
		t.Fatalf("kustomizations setting %s: %v; want the base's and drift's", cedargateImage, tags)
	}
	for f, tag := range tags {
		if tag != tags["deploy/kubernetes/kustomization.yaml"] {
			t.Errorf("%s pins %s at %q, the base at %q", f, cedargateImage, tag, tags["deploy/kubernetes/kustomization.yaml"])
		}
	}
}

// mountOf returns the volume mount of container c that holds file (the
// longest mountPath that is file or a directory above it).
func mountOf(c any, file string) (volume, mountPath string, readOnly bool) {
	for _, m := range asList(dig(c, "volumeMounts")) {
		mp := asString(dig(m, "mountPath"))
		if (file == mp || strings.HasPrefix(file, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(mountPath) {
			volume, mountPath, readOnly = asString(dig(m, "name")), mp, dig(m, "readOnly") == true
		}
	}
	return volume, mountPath, readOnly
}

// volumeByName returns the pod's volume called name.
func volumeByName(pod map[string]any, name string) map[string]any {
	for _, v := range asList(pod["volumes"]) {
		if asString(dig(v, "name")) == name {
			m, _ := v.(map[string]any)
			return m
		}
	}
	return nil
}

// script is what a container runs: its command and args, joined.
func script(c any) string {
	var parts []string
	for _, a := range append(asList(dig(c, "command")), asList(dig(c, "args"))...) {
		parts = append(parts, asString(a))
	}
	return strings.Join(parts, " ")
}

// writer returns the init container of pod that writes file, as the drift
// container (c) sees it, into a volume both mount: it mounts the volume
// writable and names the file (or its directory, for a repository) in
// what it runs.
func writer(pod map[string]any, c any, file string) (string, bool) {
	vol, mp, _ := mountOf(c, file)
	if vol == "" {
		return "", false
	}
	rel := strings.TrimPrefix(file, mp)
	for _, ic := range asList(pod["initContainers"]) {
		for _, m := range asList(dig(ic, "volumeMounts")) {
			if asString(dig(m, "name")) != vol || dig(m, "readOnly") == true {
				continue
			}
			if there := asString(dig(m, "mountPath")) + rel; strings.Contains(script(ic), there) {
				return asString(dig(ic, "name")), true
			}
		}
	}
	return "", false
}

var (
	kubectlGetRE = regexp.MustCompile(`kubectl get ([a-z,.]+)`)
	envRefRE     = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
)

// parseDrift parses args as cedargate's drift command would.
func parseDrift(t *testing.T, args []string) *cobra.Command {
	t.Helper()
	root := newRoot(io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil || cmd.Name() != "drift" {
		t.Fatalf("%v: not a drift command line (%v)", args, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestDeployDriftCronJob checks the drift CronJob against the flags it
// passes and the objects beside it.
func TestDeployDriftCronJob(t *testing.T) {
	var found []deployPod
	for _, p := range deployPods(t) {
		if asString(p.doc["kind"]) != "CronJob" {
			continue
		}
		for _, c := range asList(p.spec["containers"]) {
			if a := asList(dig(c, "args")); len(a) > 0 && a[0] == "drift" {
				found = append(found, p)
			}
		}
	}
	if len(found) == 0 {
		t.Fatal("no CronJob under deploy/kubernetes runs cedargate drift")
	}
	configMaps, roles, bindings := deployRBACAndConfig(t)
	for _, p := range found {
		t.Run(p.where, func(t *testing.T) { checkDriftCronJob(t, p, configMaps, roles, bindings) })
	}
}

// deployRBACAndConfig collects the ConfigMaps (name → data), ClusterRoles
// (name → rules) and ClusterRoleBindings under deploy/kubernetes.
func deployRBACAndConfig(t *testing.T) (configMaps map[string]map[string]string, roles map[string][]any, bindings []map[string]any) {
	configMaps, roles = map[string]map[string]string{}, map[string][]any{}
	for _, f := range deployFiles(t, ".yaml") {
		if !strings.Contains(f, "/kubernetes/") {
			continue
		}
		for _, doc := range yamlDocs(t, f) {
			name := asString(dig(doc, "metadata", "name"))
			switch asString(doc["kind"]) {
			case "ConfigMap":
				data := map[string]string{}
				for k, v := range dig(doc, "data").(map[string]any) {
					data[k] = asString(v)
				}
				configMaps[name] = data
			case "ClusterRole":
				roles[name] = asList(doc["rules"])
			case "ClusterRoleBinding":
				bindings = append(bindings, doc)
			}
		}
	}
	return configMaps, roles, bindings
}

func checkDriftCronJob(t *testing.T, p deployPod, configMaps map[string]map[string]string, roles map[string][]any, bindings []map[string]any) {
	pod := p.spec
	var drift any
	for _, c := range asList(pod["containers"]) {
		if asList(dig(c, "args"))[0] == "drift" {
			drift = c
		}
	}
	// Every ConfigMap key a container reads exists; every $(VAR) of the
	// arguments is defined. The arguments are then read as Kubernetes
	// passes them, with the variables expanded.
	for _, c := range append(asList(pod["initContainers"]), drift) {
		for _, e := range asList(dig(c, "env")) {
			ref := dig(e, "valueFrom", "configMapKeyRef")
			if ref == nil {
				continue
			}
			if name, key := asString(dig(ref, "name")), asString(dig(ref, "key")); configMaps[name] == nil || !hasKey(configMaps[name], key) {
				t.Errorf("container %s: env %s reads key %s of ConfigMap %s, which deploy/kubernetes does not define", asString(dig(c, "name")), asString(dig(e, "name")), key, name)
			}
		}
	}
	env := map[string]string{}
	for _, e := range asList(dig(drift, "env")) {
		v := asString(dig(e, "value"))
		if ref := dig(e, "valueFrom", "configMapKeyRef"); ref != nil {
			v = configMaps[asString(dig(ref, "name"))][asString(dig(ref, "key"))]
		}
		env[asString(dig(e, "name"))] = v
	}
	var args []string
	for _, a := range asList(dig(drift, "args")) {
		args = append(args, envRefRE.ReplaceAllStringFunc(asString(a), func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := env[name]
			if !ok {
				t.Errorf("argument %q uses %s, which the container does not define (Kubernetes would pass it literally)", a, ref)
			}
			return v
		}))
	}
	cmd := parseDrift(t, args)
	flags := cmd.Flags()

	// Output for the log pipeline, and a gate that fails the Job.
	if f, _ := flags.GetString("format"); f != "json" {
		t.Errorf("--format %q, want json (one document for the log pipeline)", f)
	}
	failOn, _ := flags.GetString("fail-on")
	if kinds, err := parseFailOn(failOn); err != nil || len(kinds) == 0 {
		t.Errorf("--fail-on %q: %v; name the finding kinds that fail the Job", failOn, err)
	}
	var failsOnDrift bool
	for _, r := range asList(dig(p.doc, "spec", "jobTemplate", "spec", "podFailurePolicy", "rules")) {
		codes := asList(dig(r, "onExitCodes", "values"))
		if asString(dig(r, "action")) == "FailJob" && asString(dig(r, "onExitCodes", "containerName")) == asString(dig(drift, "name")) &&
			asString(dig(r, "onExitCodes", "operator")) == "In" && slices.ContainsFunc(codes, func(v any) bool { return asInt(v) == exitFailure }) {
			failsOnDrift = true
		}
	}
	if !failsOnDrift {
		t.Errorf("no podFailurePolicy rule fails the Job when container %s exits %d (--fail-on found drift): it would be retried", asString(dig(drift, "name")), exitFailure)
	}
	if asString(dig(p.doc, "spec", "concurrencyPolicy")) != "Forbid" {
		t.Error("concurrencyPolicy is not Forbid: a slow run would overlap the next")
	}

	// The repository and every file source are written by an init
	// container into a volume they share; the token is a Secret.
	dirs := flags.Args()
	if len(dirs) != 1 {
		t.Fatalf("drift positional arguments %q, want the repository", dirs)
	}
	files := []string{dirs[0]}
	sources, _ := flags.GetStringArray("source")
	for _, s := range sources {
		name, v, _ := strings.Cut(s, "=")
		if name == "scim" && strings.Contains(v, "://") {
			if !strings.HasPrefix(v, "https://") {
				t.Errorf("--source %s: the SCIM URL must be https://", s)
			}
			continue
		}
		files = append(files, v)
	}
	for _, f := range files {
		if by, ok := writer(pod, drift, f); !ok {
			t.Errorf("nothing writes %s: no init container mounts its volume writable and names it", f)
		} else {
			t.Logf("%s is written by init container %s", f, by)
		}
	}
	tok, _ := flags.GetString("scim-token-file")
	if vol, _, _ := mountOf(drift, tok); vol == "" || dig(volumeByName(pod, vol), "secret", "secretName") == nil {
		t.Errorf("--scim-token-file %q is not in a mounted Secret", tok)
	}

	// The Kubernetes API: only the kubectl init container has a token, and
	// the account's ClusterRole allows get and list of exactly what it
	// lists.
	if pod["automountServiceAccountToken"] != false {
		t.Error("automountServiceAccountToken is not false")
	}
	const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	var listed []string
	for _, c := range append(asList(pod["initContainers"]), drift) {
		vol, _, _ := mountOf(c, saDir+"/token")
		hasToken := vol != "" && slices.ContainsFunc(asList(dig(volumeByName(pod, vol), "projected", "sources")), func(s any) bool {
			return dig(s, "serviceAccountToken") != nil
		})
		m := kubectlGetRE.FindStringSubmatch(script(c))
		switch {
		case m != nil && !hasToken:
			t.Errorf("container %s runs kubectl without a projected service account token at %s", asString(dig(c, "name")), saDir)
		case m == nil && hasToken:
			t.Errorf("container %s holds a Kubernetes token it does not need", asString(dig(c, "name")))
		case m != nil:
			listed = append(listed, strings.Split(m[1], ",")...)
		}
	}
	if len(listed) == 0 {
		t.Fatal("no init container runs kubectl get")
	}
	sa := asString(pod["serviceAccountName"])
	var granted []string
	for _, b := range bindings {
		bound := slices.ContainsFunc(asList(b["subjects"]), func(s any) bool {
			return asString(dig(s, "kind")) == "ServiceAccount" && asString(dig(s, "name")) == sa
		})
		if !bound {
			continue
		}
		role := asString(dig(b, "roleRef", "name"))
		rules, ok := roles[role]
		if !ok {
			t.Errorf("ClusterRoleBinding %s binds ClusterRole %s, which deploy/kubernetes does not define", asString(dig(b, "metadata", "name")), role)
		}
		for _, r := range rules {
			for _, v := range asList(dig(r, "verbs")) {
				if v != "get" && v != "list" {
					t.Errorf("ClusterRole %s allows %q; drift reads, so get and list only", role, v)
				}
			}
			for _, res := range asList(dig(r, "resources")) {
				granted = append(granted, asString(res))
			}
		}
	}
	slices.Sort(listed)
	slices.Sort(granted)
	if !slices.Equal(listed, granted) {
		t.Errorf("kubectl lists %q, but ServiceAccount %s may read %q: keep the two the same", listed, sa, granted)
	}
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
