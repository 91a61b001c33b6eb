// Package compile turns one environment of an identity repository into
// Cedar: entities for the identity objects (with membership as parent
// edges), generated policies for entitlements and exception grants, the
// repository's own policies and entities, and the schema they are all
// validated against.
package compile

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// Result is the compiled form of one environment.
type Result struct {
	Env string
	// View is the environment's identity objects. A caller done with them
	// may drop it (set it to nil) to free their memory; the rest of the
	// result does not need it.
	View *repo.View
	// Namespace is the repository's Cedar namespace (cedargate.yaml).
	Namespace string
	// Schema is nil for a repository without schema and identities.
	Schema     *resolved.Schema
	SchemaText []byte
	Entities   Entities
	// Policies are the bundle's, sorted by ID: the hand-written ones and
	// the templates of profiles and expiry (see grants.go).
	Policies []Policy
	// Grants are the memberships grants and service-account expiries
	// make, sorted by ID.
	Grants []Grant
	// UnknownSubjects lists grants whose subject names no principal in
	// this environment; they generate no policy. The orphan-object
	// guardrail reports them.
	UnknownSubjects []UnknownSubject
	// AuthZEN is the AuthZEN mapping of cedargate.yaml, resolved against
	// the schema; nil when the repository writes none.
	AuthZEN *bundle.AuthZEN
}

// UnknownSubject is a grant to a subject that does not exist.
type UnknownSubject struct {
	Grant *repo.Meta
	Err   error
}

// Policy is a compiled policy with what checking it needs.
type Policy struct {
	bundle.Policy
	Pos diag.Position
	// Parsed is the parsed policy.
	Parsed *cedar.Policy
	// Object is the key ("Kind/name") of the identity object the policy
	// was generated from, empty for hand-written policies.
	Object string
	// When is where the condition of a generated grant is written: the
	// `when:` of its profile's permission (the condition's first
	// character when the file holds it as it is, on one line). Zero for
	// policies without one and for hand-written policies, whose clauses
	// access.ClauseSources finds in their own text.
	When diag.Position
}

type compiler struct {
	opts      Options
	repo      *repo.Repo
	cfg       *repo.Config
	view      *repo.View
	diags     diag.List
	out       *Result
	validator *validate.Validator
	// entitySchema is the schema without its actions, which is all that
	// coercing and validating an entity of another type reads (see
	// addEntityJSON).
	entitySchema *resolved.Schema
	profiles     map[string]*profile
	// profileMeta finds the view's access profiles by name (the last of
	// a name, as a search in order would); built on first use.
	profileMeta map[string]*repo.AccessProfile
	// grantChecks caches the validation of a profile's policies per kind
	// of subject; edges collects the parents grants give entities.
	grantChecks map[grantCheckKey]grantCheck
	edges       map[types.EntityUID][]types.EntityUID
	// entityPos says where each entity is defined (schema-declared
	// action entities have none), and spiffeIDs are the spiffe_id
	// attributes of the entities that have one: both for the checks of
	// entities (see entities), let go once those are done.
	entityPos map[types.EntityUID]diag.Position
	spiffeIDs map[types.EntityUID]types.String
	// parentRefs are checked once all entities exist.
	parentRefs []parentRef
}

// Options tune a compilation to what its caller reads of the result.
type Options struct {
	// DropAttributes clears each identity object's attributes once they
	// are encoded into its entity, so Result.View holds none. A build
	// reads nothing else of them and saves their memory (a sixth of the
	// live heap at 100k identities); access reports, which compare
	// attributes, keep them.
	DropAttributes bool
}

// Compile compiles the repository for env (as accepted by Repo.CheckEnv).
// It returns every problem found; the result is usable only when the list
// holds no errors.
func Compile(r *repo.Repo, env string) (*Result, diag.List) {
	return CompileWith(r, env, Options{})
}

// CompileWith is Compile tuned by opts.
func CompileWith(r *repo.Repo, env string, opts Options) (*Result, diag.List) {
	c := &compiler{repo: r, cfg: r.Config, opts: opts, out: &Result{Env: env, Namespace: r.Config.Namespace}, entityPos: map[types.EntityUID]diag.Position{}, profiles: map[string]*profile{},
		grantChecks: map[grantCheckKey]grantCheck{}, edges: map[types.EntityUID][]types.EntityUID{},
		spiffeIDs: map[types.EntityUID]types.String{}}
	c.diags.Append(r.Problems)
	if r.Problems.Errors() > 0 {
		// A file that does not parse hides objects other files refer to;
		// resolving references now would only report follow-on errors.
		c.out.View, _ = r.View(env)
		return c.out, c.diags
	}
	view, problems := r.View(env)
	c.diags.Append(problems)
	c.view = view
	c.out.View = view
	if r.Problems.Errors() > 0 {
		// The view found a file that does not parse (Load left the
		// parsing to it): as above, and its error is among problems.
		return c.out, c.diags
	}

	c.buildSchema()
	if c.out.Schema != nil && c.cfg.Validation != repo.ValidationOff {
		mode := validate.WithStrict()
		if c.cfg.Validation == repo.ValidationPermissive {
			mode = validate.WithPermissive()
		}
		c.validator = validate.New(c.out.Schema, mode)
	}
	if c.out.Schema != nil {
		s := *c.out.Schema
		s.Actions = nil
		c.entitySchema = &s
	}
	c.authzen()
	c.entities()
	c.policies()
	slices.SortFunc(c.out.Policies, func(a, b Policy) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(c.out.Policies); i++ {
		if a, b := c.out.Policies[i-1], c.out.Policies[i]; a.ID == b.ID {
			c.diags.Errorf(b.Pos, "policy id %q is already used by the policy at %s", b.ID, a.Pos)
		}
	}
	return c.out, c.diags
}

// Bundle assembles the bundle for this result; manifest carries the
// revision and build facts, the counts and expiry are filled in here.
func (r *Result) Bundle(m bundle.Manifest) *bundle.Bundle {
	m.FormatVersion = bundle.FormatVersion
	m.Environment = cmp.Or(r.Env, "default")
	grants := 0
	for i := range r.Grants {
		if r.Grants[i].Origin != OriginExpiry {
			grants++
		}
	}
	m.Counts = bundle.Counts{Entities: len(r.Entities), Policies: len(r.Policies), Grants: grants}
	b := &bundle.Bundle{Manifest: m, Schema: r.SchemaText, Entities: r.Entities.JSON(), AuthZEN: r.AuthZEN,
		Policies: make([]bundle.Policy, 0, len(r.Policies)), Grants: make([]bundle.Grant, 0, len(r.Grants))}
	expiry := func(t *time.Time) {
		if t != nil && (b.Manifest.EarliestExpiry == nil || t.Before(*b.Manifest.EarliestExpiry)) {
			b.Manifest.EarliestExpiry = t
		}
	}
	for _, p := range r.Policies {
		expiry(p.NotBefore)
		expiry(p.NotAfter)
		b.Policies = append(b.Policies, p.Policy)
	}
	for _, g := range r.Grants {
		expiry(g.NotBefore)
		expiry(g.NotAfter)
		b.Grants = append(b.Grants, g.Grant)
	}
	return b
}
