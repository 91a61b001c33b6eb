package repo

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/diag"
)

// ConfigFile is the repository settings file at the repository root.
const ConfigFile = "cedargate.yaml"

// Validation modes for `validation:` in cedargate.yaml.
const (
	ValidationStrict     = "strict"
	ValidationPermissive = "permissive"
	ValidationOff        = "off"
)

// Config is cedargate.yaml.
type Config struct {
	// Name names the repository in bundle manifests.
	Name string
	// Namespace is the Cedar namespace of the entity types cedargate
	// generates (User, ServiceAccount, Group, Team), of actions named
	// without one in access profiles and of resource types written without
	// one. Empty means Cedar's root namespace.
	Namespace string
	// Environments lists the environments a bundle can be built for; empty
	// means the repository has a single, unnamed environment.
	Environments []string
	// Production lists the environments that hold production; the
	// environment-crossover guardrail keeps their service accounts apart from
	// the others. Defaults to "prod" and "production" where declared.
	Production []string
	// Validation is how policies and entities are checked against the
	// schema: strict (the default), permissive or off.
	Validation string
	Guardrails Guardrails
	// RelativeDates allows dates written relative to the day of the
	// command (today-22d, today+90d). Meant for examples,
	// which must build on any date; a real repository writes the day a
	// review or rotation happened.
	RelativeDates bool
	// Limits bound what the repository's files can make cedargate do.
	Limits Limits
	// Inventory declares the live directories cedargate drift and import
	// read and how their objects map to identities, in file order.
	Inventory []InventorySource
	// AuthZEN is the authzen: section, nil when not written.
	AuthZEN *AuthZEN
	// Pos is where each setting is written, for messages.
	Pos map[string]diag.Position
}

// Guardrails holds the guardrail settings of cedargate.yaml.
type Guardrails struct {
	// NHIMaxLifetime bounds how far in the future a ServiceAccount may
	// expire (nhi-lifetime-too-long). Default 365 days.
	NHIMaxLifetime time.Duration
	// CredentialMaxRotation bounds a credential's rotation cadence
	// (credential-rotation-too-slow). Default 90 days.
	CredentialMaxRotation time.Duration
	// ReviewCadence is the review cadence of accounts whose review block
	// gives none. Default 90 days.
	ReviewCadence time.Duration
	// ExceptionMaxDuration bounds how far in the future an Exception may
	// expire (exception-unbounded). Default 30 days.
	ExceptionMaxDuration time.Duration
	// ExpiryWarning is how long before its expiry a ServiceAccount, grant
	// or Exception is reported as expiring soon (expiring-soon). Default
	// 14 days.
	ExpiryWarning time.Duration
	// Require lists the fields every grant and Exception must have
	// (justification-missing): RequireTicket and RequireReason, each at
	// most once, with where it is written.
	Require []Token
	// Severity maps a rule name to "error", "warning" or "off".
	Severity map[string]Setting
}

// Setting is one value written in cedargate.yaml with its position.
type Setting struct {
	Value string
	Pos   diag.Position
}

// DefaultGuardrails returns the settings used where cedargate.yaml is
// silent.
func DefaultGuardrails() Guardrails { return defaultGuardrails }

var defaultGuardrails = Guardrails{
	NHIMaxLifetime:        365 * 24 * time.Hour,
	CredentialMaxRotation: 90 * 24 * time.Hour,
	ReviewCadence:         90 * 24 * time.Hour,
	ExceptionMaxDuration:  30 * 24 * time.Hour,
	ExpiryWarning:         14 * 24 * time.Hour,
}

// Fields that guardrails.require can ask of every grant and Exception.
const (
	RequireTicket = "ticket"
	RequireReason = "reason"
)

// Requires reports whether guardrails.require lists field.
func (g *Guardrails) Requires(field string) bool {
	return slices.ContainsFunc(g.Require, func(t Token) bool { return t.Text == field })
}

// IsProduction reports whether env is a production environment.
func (c *Config) IsProduction(env string) bool { return slices.Contains(c.Production, env) }

// parseConfig reads cedargate.yaml within b, which holds the default
// limits: no setting of the file can raise them for the file itself.
func parseConfig(file string, src []byte, diags *diag.List, b *budget) *Config {
	c := &Config{Validation: ValidationStrict, Guardrails: DefaultGuardrails(), Limits: DefaultLimits(), Pos: map[string]diag.Position{}}
	c.Guardrails.Severity = map[string]Setting{}
	docs, err := parseYAML(file, src, b)
	if err != nil {
		diags.Append(diag.ListOf(err))
		return c
	}
	if len(docs) == 0 {
		return c
	}
	if len(docs) > 1 {
		diags.Errorf(docs[1].pos, "%s holds one document, found %d", file, len(docs))
	}
	d := &decoder{diags: diags, noEnv: "cedargate.yaml cannot use ${env}: it is read once for every environment"}
	f := d.fields(docs[0], "")
	c.Name = f.str("name")
	c.Namespace = f.str("namespace")
	if c.Namespace != "" && !isCedarPath(c.Namespace) {
		d.errorf(f.pos["namespace"], "", "namespace %q is not a Cedar namespace (for example Acme or Acme::Payments)", c.Namespace)
	}
	for _, t := range f.tokens("environments") {
		if !isEnvName(t.Text) {
			d.errorf(t.Pos, "", "environment name %q must be lower-case letters, digits and '-'", t.Text)
		}
		if slices.Contains(c.Environments, t.Text) {
			d.errorf(t.Pos, "", "environment %q is listed twice", t.Text)
		}
		c.Environments = append(c.Environments, t.Text)
	}
	if f.written("production") {
		// Written, even empty: the repository says which environments are
		// production (none, when empty).
		c.Production = []string{}
		for _, t := range f.tokens("production") {
			if !slices.Contains(c.Environments, t.Text) {
				d.errorf(t.Pos, "", "production environment %q is not in environments", t.Text)
			}
			c.Production = append(c.Production, t.Text)
		}
	} else {
		for _, e := range c.Environments {
			if e == "prod" || e == "production" {
				c.Production = append(c.Production, e)
			}
		}
	}
	if v := f.str("validation"); v != "" {
		if !slices.Contains([]string{ValidationStrict, ValidationPermissive, ValidationOff}, v) {
			d.errorf(f.pos["validation"], "", "validation must be strict, permissive or off, not %q", v)
		} else {
			c.Validation = v
		}
	}
	c.RelativeDates = f.flag("relative_dates")
	if g := f.get("guardrails"); g != nil {
		gf := d.fields(g, "guardrails")
		set := func(key string, dst *time.Duration) {
			if v := gf.duration(key); v > 0 {
				*dst = v
			}
		}
		set("nhi_max_lifetime", &c.Guardrails.NHIMaxLifetime)
		set("credential_max_rotation", &c.Guardrails.CredentialMaxRotation)
		set("review_cadence", &c.Guardrails.ReviewCadence)
		set("exception_max_duration", &c.Guardrails.ExceptionMaxDuration)
		set("expiry_warning", &c.Guardrails.ExpiryWarning)
		for _, t := range gf.tokens("require") {
			switch {
			case t.Text != RequireTicket && t.Text != RequireReason:
				msg := fmt.Sprintf("require: %q is not a field guardrails can require (ticket or reason)", t.Text)
				if s := Suggest(t.Text, []string{RequireTicket, RequireReason}); s != "" {
					msg = fmt.Sprintf("require: %q is not a field guardrails can require (did you mean %q?)", t.Text, s)
				}
				d.errorf(t.Pos, "guardrails", "%s", msg)
			case c.Guardrails.Requires(t.Text):
				d.errorf(t.Pos, "guardrails", "require: %s is listed twice", t.Text)
			default:
				c.Guardrails.Require = append(c.Guardrails.Require, t)
			}
		}
		if s := gf.get("severity"); s != nil {
			if s.kind != mapNode {
				d.errorf(s.pos, "guardrails", "severity must map rule names to error, warning or off")
			} else {
				for i, k := range s.keys {
					v := s.values[i]
					if v.kind != scalarNode || !slices.Contains([]string{"error", "warning", "off"}, v.text) {
						d.errorf(v.pos, "guardrails", "severity of %s must be error, warning or off, found %s", k.text, v.describe())
						continue
					}
					c.Guardrails.Severity[k.text] = Setting{Value: v.text, Pos: k.pos}
				}
			}
		}
		gf.done()
	}
	if l := f.get("limits"); l != nil {
		d.parseLimits(l, &c.Limits)
	}
	if n := f.get("inventory"); n != nil {
		c.Inventory = d.parseInventory(n)
	}
	if a := f.get("authzen"); a != nil {
		c.AuthZEN = d.parseAuthZEN(a)
	}
	f.done()
	for k, p := range f.pos {
		c.Pos[k] = p
	}
	return c
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// isCedarPath reports whether s is a Cedar namespace path such as
// Acme::Payments.
func isCedarPath(s string) bool {
	for _, part := range strings.Split(s, "::") {
		if !isCedarIdent(part) {
			return false
		}
	}
	return true
}

func isCedarIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Qualify prefixes a Cedar type or action type name with the repository
// namespace unless it already has one.
func (c *Config) Qualify(name string) string {
	if c.Namespace == "" || strings.Contains(name, "::") {
		return name
	}
	return c.Namespace + "::" + name
}

// UID returns the Cedar entity UID of identity object m.
func (c *Config) UID(m *Meta) types.EntityUID {
	return types.NewEntityUID(types.EntityType(c.Qualify(string(m.Kind))), types.String(m.Name))
}
