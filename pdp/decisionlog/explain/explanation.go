package explain

import (
	"time"

	"github.com/cedargate/cedargate/bundle"
)

// Explanation is a decision traced to its source. Its JSON form is the
// document `cedargate explain --format json` prints (docs/cli.md).
type Explanation struct {
	Decision Decision `json:"decision"`
	Revision Revision `json:"revision"`
	// Warnings say where the explanation may not match what decided.
	Warnings []string `json:"warnings"`
	// DefaultDeny is set for a deny that no policy determined: no permit
	// applied.
	DefaultDeny bool `json:"default_deny"`
	// Policies are the determining policies, as logged.
	Policies []Policy `json:"policies"`
	// Errors are the policies that failed to evaluate, as logged.
	Errors []Policy `json:"errors"`
}

// Decision is the log entry.
type Decision struct {
	ID        string     `json:"decision_id"`
	Time      time.Time  `json:"time"`
	Principal string     `json:"principal"`
	Action    string     `json:"action"`
	Resource  string     `json:"resource"`
	Decision  string     `json:"decision"`
	Caller    string     `json:"caller,omitempty"`
	LatencyUS int64      `json:"latency_us"`
	Bundle    bundle.Ref `json:"bundle"`
	// Log is where the entry was found.
	Log LogLine `json:"log"`
}

// LogLine is a line of a decision log file.
type LogLine struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// Revision is the commit the repository was read at.
type Revision struct {
	// Commit is the full hash, Time its committer time.
	Commit string    `json:"commit"`
	Time   time.Time `json:"time"`
	// Digest is the digest the bundle rebuilds to at Commit, and
	// DigestMatches whether it is the logged one: when it is, the
	// policies below are exactly those that decided.
	Digest        string `json:"digest"`
	DigestMatches bool   `json:"digest_matches"`
	// Dirty is set when the bundle was built from a work tree with
	// uncommitted changes on top of Commit.
	Dirty bool `json:"dirty"`
}

// Policy is one policy of the decision, explained.
type Policy struct {
	ID string `json:"id"`
	// Kind is what the policy is: "policy" (hand-written Cedar),
	// "entitlement" or "exception" (a grant generated from one),
	// "expiry" (the forbid that applies once a ServiceAccount has
	// expired), or "missing" when the rebuilt bundle has no policy with
	// that id.
	Kind string `json:"kind"`
	// Effect is "permit" or "forbid" (empty when missing).
	Effect string `json:"effect"`
	// Summary says in a sentence what the policy is.
	Summary string `json:"summary"`
	// Source is the policy's position, path:line:column.
	Source string `json:"source"`
	// NotBefore and NotAfter bound when a time-bound policy applies.
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
	// Cedar is the policy as the engine evaluated it.
	Cedar string `json:"cedar"`
	// Message is the evaluation error, for Explanation.Errors.
	Message string `json:"message,omitempty"`
	// Grant describes the Entitlement or Exception of a grant.
	Grant *Grant `json:"grant,omitempty"`
	// Sources are the source lines the policy comes from: the policy
	// text; for a grant the Entitlement or Exception and the
	// AccessProfile; for an expiry the ServiceAccount.
	Sources []Source `json:"sources"`
}

// Grant is the identity object a generated grant comes from.
type Grant struct {
	// Kind is "Entitlement" or "Exception"; Name its name, empty when
	// it has none.
	Kind       string     `json:"kind"`
	Name       string     `json:"name"`
	Subject    string     `json:"subject"`
	Profile    string     `json:"profile"`
	ApprovedBy string     `json:"approved_by"`
	Ticket     string     `json:"ticket,omitempty"`
	Expires    *time.Time `json:"expires,omitempty"`
}

// Source is a run of lines of a file at the revision.
type Source struct {
	// What names what the lines are: "policy", or the identity object
	// (`Entitlement "x"`, `AccessProfile "api-reader"`).
	What string `json:"what"`
	Path string `json:"path"`
	// StartLine and EndLine are 1-based and inclusive.
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
	Text      string `json:"text"`
	// LastChange is the commit that last changed any of the lines, by
	// the revision.
	LastChange Change `json:"last_change"`
}

// Change is a commit, as blame found it.
type Change struct {
	Commit  string    `json:"commit"`
	Author  string    `json:"author"`
	Email   string    `json:"email"`
	Date    time.Time `json:"date"`
	Subject string    `json:"subject"`
}
