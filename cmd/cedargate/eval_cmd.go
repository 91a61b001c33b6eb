package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/evaluate"
)

func evalCmd() *cobra.Command {
	var env, at, format, entitiesFile, contextJSON string
	var req evaluate.Request
	cmd := &cobra.Command{
		Use:   "eval [DIR] --env ENV --principal UID --action UID --resource UID",
		Short: "Decide one request offline, and explain it",
		Long: `Eval compiles the identity repository DIR (default .) for ENV as build does (the work
tree as it is; nothing is stored) and decides one request with the PDP's
decision engine, at --at (default now): the answer a PDP serving that
bundle would give, without starting one.

UIDs may be short (User/alice, Acme::User/alice, an action by its name:
read) or Cedar UIDs (Acme::User::"alice"). --context is a JSON object
converted by the schema: {"source_ip": "10.1.1.1"} becomes an ipaddr where
the schema declares one; Cedar JSON ({"__extn": ...}) works too.
--entities is a file holding a JSON array of request-scoped entities.

A principal or resource the bundle does not define is decided (as an
entity with no attributes and no parents), with a warning that suggests
the closest entity it does define.

--explain lists every policy whose scope could match (the action's, about
this principal or this resource): whether its scope matched, whether its
validity window holds, each when/unless clause with its path:line:column
and whether it was true, false or failed to evaluate, and which policies
determined the decision.

Exit code 0 for allow, 1 for deny, 2 when the request or the repository
cannot be read. --format json prints the document docs/cli.md describes.`,
		Args: dirArg(),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			for _, f := range []struct{ name, val string }{{"principal", req.Principal}, {"action", req.Action}, {"resource", req.Resource}} {
				if f.val == "" {
					return usageError{fmt.Errorf("--%s is required", f.name)}
				}
			}
			var err error
			if req.At, err = parseAt(at); err != nil {
				return err
			}
			req.Context = []byte(contextJSON)
			if entitiesFile != "" {
				if req.Entities, err = os.ReadFile(entitiesFile); err != nil {
					return usageError{fmt.Errorf("--entities: %w", err)}
				}
			}
			ctx := cmd.Context()
			c, err := compileSource(ctx, repoDir(a), env, "", req.At)
			if err != nil {
				return inputError(ctx, err)
			}
			res, err := evaluate.Run(c, req)
			if err != nil {
				var ie *evaluate.InputError
				if errors.As(err, &ie) {
					return usageError{err}
				}
				return inputError(ctx, err)
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w)
			}
			if format == "json" {
				err = writeEvalJSON(cmd.OutOrStdout(), res)
			} else {
				writeEvalText(cmd.OutOrStdout(), res)
			}
			if err != nil {
				return err
			}
			if !res.Decision.Allow {
				return codeError{code: exitProblems}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment to compile (required when the repository declares environments)")
	f.StringVar(&req.Principal, "principal", "", "principal: User/alice or a Cedar UID (required)")
	f.StringVar(&req.Action, "action", "", "action: its name (read), Action/read or a Cedar UID (required)")
	f.StringVar(&req.Resource, "resource", "", "resource: Type/id or a Cedar UID (required)")
	f.StringVar(&contextJSON, "context", "", `request context, a JSON object converted by the schema ({"source_ip": "10.1.1.1"})`)
	f.StringVar(&entitiesFile, "entities", "", "file with request-scoped entities, a JSON array in Cedar's entity format")
	f.BoolVar(&req.Explain, "explain", false, "explain the decision policy by policy: scope, window, each clause with its position")
	f.StringVar(&at, "at", "", "decide at this instant (RFC 3339 or YYYY-MM-DD; default now)")
	formatFlag(cmd, &format, "text", "json")
	return cmd
}

func decisionWord(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

// writeEvalText prints the decision as check does, then the explanation.
func writeEvalText(w io.Writer, r *evaluate.Result) {
	d := r.Decision
	fmt.Fprintln(w, strings.ToUpper(decisionWord(d.Allow)))
	if len(d.Reasons) == 0 && !d.Allow {
		fmt.Fprintln(w, "  no policy applies (default deny)")
	}
	for _, p := range d.Reasons {
		fmt.Fprintf(w, "  by %s  (%s)\n", p.ID, p.Source)
	}
	for _, e := range d.Errors {
		fmt.Fprintf(w, "  error in %s at %s: %s\n", e.PolicyID, r.ErrorSources[e.PolicyID], e.Message)
	}
	fmt.Fprintf(w, "  %s %s %s at %s, bundle %s (%s, %s)\n", r.Principal, r.Action, r.Resource,
		r.At.Format(time.RFC3339), r.Bundle.Revision, r.Bundle.Environment, bundle.ShortDigest(r.Bundle.Digest))
	if r.Policies == nil {
		return
	}
	fmt.Fprintf(w, "\n%d policies could match:\n", len(r.Policies))
	for _, p := range r.Policies {
		mark := ""
		if p.Determining {
			mark = "  [determining]"
		}
		fmt.Fprintf(w, "\n%s %s  (%s)%s\n", p.Effect, p.ID, p.Source, mark)
		fmt.Fprintf(w, "  %s\n", outcomeText(p))
		fmt.Fprintf(w, "  scope (%s): principal %s, action %s, resource %s\n", p.Scope.Text,
			yesNo(p.Scope.Principal), yesNo(p.Scope.Action), yesNo(p.Scope.Resource))
		if !p.Active {
			fmt.Fprintf(w, "  not in force at %s (validity window)\n", r.At.Format(time.RFC3339))
		}
		for _, c := range p.Conditions {
			res := c.Result
			switch {
			case c.Error != "":
				res += ": " + c.Error
			case c.Result == "skipped":
				res += " (an earlier clause does not hold)"
			case c.Holds:
				res += " (holds)"
			default:
				res += " (does not hold)"
			}
			fmt.Fprintf(w, "  %s  %s { %s }: %s\n", c.Source, c.Kind, c.Text, res)
		}
	}
}

func yesNo(ok bool) string {
	if ok {
		return "matches"
	}
	return "does not match"
}

// outcomeText says in words why a policy applied or not.
func outcomeText(p evaluate.Policy) string {
	switch p.Outcome {
	case "scope":
		return "does not apply: its scope does not match"
	case "inactive":
		return "does not apply: not in force at this instant"
	case "error":
		for _, c := range p.Conditions {
			if c.Result == "error" {
				return fmt.Sprintf("skipped: its %s clause at %s failed to evaluate: %s", c.Kind, c.Source, c.Error)
			}
		}
	case "condition":
		for _, c := range p.Conditions {
			if c.Result != "skipped" && !c.Holds {
				return fmt.Sprintf("does not apply: its %s clause at %s is %s", c.Kind, c.Source, c.Result)
			}
		}
	}
	return "applies"
}

// evalJSON is eval's --format json document; docs/cli.md describes it and
// it stays stable.
type evalJSON struct {
	Decision            string        `json:"decision"`
	Principal           string        `json:"principal"`
	Action              string        `json:"action"`
	Resource            string        `json:"resource"`
	At                  string        `json:"at"`
	Bundle              bundle.Ref    `json:"bundle"`
	DeterminingPolicies []policyRef   `json:"determining_policies"`
	Errors              []evalErrJSON `json:"errors"`
	Warnings            []string      `json:"warnings"`
	Policies            []policyJSON  `json:"policies,omitempty"`
}

type policyRef struct {
	ID     string `json:"id"`
	Source string `json:"source"`
}

type evalErrJSON struct {
	PolicyID string `json:"policy_id"`
	Source   string `json:"source"`
	Message  string `json:"message"`
}

type policyJSON struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Effect      string          `json:"effect"`
	Outcome     string          `json:"outcome"`
	Determining bool            `json:"determining"`
	Scope       scopeJSON       `json:"scope"`
	Active      bool            `json:"active"`
	Conditions  []conditionJSON `json:"conditions"`
}

type scopeJSON struct {
	Text      string `json:"text"`
	Principal bool   `json:"principal"`
	Action    bool   `json:"action"`
	Resource  bool   `json:"resource"`
}

type conditionJSON struct {
	Kind   string `json:"kind"`
	Source string `json:"source"`
	Text   string `json:"text"`
	Result string `json:"result"`
	Holds  bool   `json:"holds"`
	Error  string `json:"error,omitempty"`
}

func writeEvalJSON(w io.Writer, r *evaluate.Result) error {
	out := evalJSON{
		Decision: decisionWord(r.Decision.Allow), Principal: r.Principal.String(), Action: r.Action.String(),
		Resource: r.Resource.String(), At: r.At.Format(time.RFC3339), Bundle: r.Bundle,
		DeterminingPolicies: []policyRef{}, Errors: []evalErrJSON{}, Warnings: append([]string{}, r.Warnings...),
	}
	for _, p := range r.Decision.Reasons {
		out.DeterminingPolicies = append(out.DeterminingPolicies, policyRef{p.ID, p.Source})
	}
	for _, e := range r.Decision.Errors {
		out.Errors = append(out.Errors, evalErrJSON{e.PolicyID, r.ErrorSources[e.PolicyID], e.Message})
	}
	if r.Policies != nil {
		out.Policies = []policyJSON{}
	}
	for _, p := range r.Policies {
		pj := policyJSON{ID: p.ID, Source: p.Source, Effect: p.Effect, Outcome: p.Outcome, Determining: p.Determining,
			Scope:  scopeJSON{p.Scope.Text, p.Scope.Principal, p.Scope.Action, p.Scope.Resource},
			Active: p.Active, Conditions: []conditionJSON{}}
		for _, c := range p.Conditions {
			pj.Conditions = append(pj.Conditions, conditionJSON{c.Kind, c.Source, c.Text, c.Result, c.Holds, c.Error})
		}
		out.Policies = append(out.Policies, pj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Conditions hold && and <, which people read in the document.
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
