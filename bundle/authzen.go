package bundle

// AuthZENFile is the optional file of a bundle that holds its AuthZEN
// mapping. A bundle without one is byte for byte what it was before the
// file existed (same digest); a cedargate older than the file refuses a
// bundle that has it ("unexpected file"), rather than serving AuthZEN
// requests with a mapping it cannot read.
const AuthZENFile = "authzen.json"

// AuthZEN is how requests of the OpenID AuthZEN Authorization API map to
// Cedar, as the `authzen:` section of a repository's cedargate.yaml writes
// it, checked and resolved against the schema by the compiler: every
// Cedar name here is a full one. pdp/authzen applies it; a bundle without
// one gets that package's defaults.
type AuthZEN struct {
	// Namespace is the repository's namespace, where default names are
	// looked for first; empty for the root namespace.
	Namespace string `json:"namespace,omitempty"`
	// Types maps AuthZEN subject and resource types to Cedar entity types
	// (Acme::User). Nil when the repository maps none: types then map by
	// name.
	Types map[string]string `json:"types,omitempty"`
	// Actions maps AuthZEN action names to Cedar action UIDs in Cedar's
	// text form (Acme::Action::"read"). Nil when the repository maps none:
	// actions then map by name.
	Actions map[string]string `json:"actions,omitempty"`
	// ActionProperties is the context attribute that holds an AuthZEN
	// action's properties; empty puts them at the top of the context.
	ActionProperties string `json:"action_properties,omitempty"`
	// UnknownSubjects and UnknownResources say what a subject or resource
	// the bundle does not define gets: "deny" or "decide"; empty for the
	// default.
	UnknownSubjects  string `json:"unknown_subjects,omitempty"`
	UnknownResources string `json:"unknown_resources,omitempty"`
	// UndeclaredProperties says what happens to properties and context
	// members the schema does not declare: "drop" or "keep"; empty for
	// the default.
	UndeclaredProperties string `json:"undeclared_properties,omitempty"`
}
