package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/demo"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/authzen"
	"github.com/cedargate/cedargate/pdp/cedarjson"
	"github.com/cedargate/cedargate/pdp/client"
	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/extauthz"
	"github.com/cedargate/cedargate/pdp/wire"
)

func serveCmd() *cobra.Command {
	var (
		logFormat, logLevel, overflow, asOf string
		requestEntities                     string
		verifyKeys                          []string
		tlsCert, tlsKey, clientCA           string
		extauthzFile, extauthzNS            string
		httpTokenFile, httpBaseURL          string
		extauthzOn                          bool
		opts                                pdp.Options
		sf                                  storeFlags
		src                                 sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "serve --store STORE --listen ADDR",
		Short: "Serve decisions from a bundle store over gRPC",
		Long: `Serve runs the policy decision point. It activates the active bundle of
STORE, watches the store and hot-reloads bundles as they are rolled out or
back (a bundle that fails to load, verify or compile is refused and the last
good one keeps serving), and answers cedargate.v1.AuthorizationService,
AdminService, grpc.health.v1.Health (SERVING only while a bundle is active,
and neither --max-staleness nor --decision-log-required holds it back) and
server reflection on --listen. Prometheus metrics, /healthz and /readyz
are served on --metrics-listen. Every decision is written to the decision
log (--decision-log; empty turns it off), by default off the request path;
every entry that cannot be written is counted. With --decision-log-sync a
decision is answered only once its entry has been written (the write is
then on the request path, one for the requests waiting together); with
--decision-log-required
the PDP reports NOT_SERVING while entries are being lost. SIGINT or SIGTERM
stop it gracefully: health turns NOT_SERVING, requests in flight finish, the
decision log is flushed.

--extauthz also serves Envoy's ext_authz API
(envoy.service.auth.v3.Authorization/Check) on --listen, mapping each HTTP
request to a Cedar request: the caller's SPIFFE id is the principal, the
method the action, the host the resource. --extauthz-config FILE (YAML)
changes the mapping; docs/envoy.md describes it and deploy/envoy/envoy.yaml
is an Envoy configuration to start from.

--http-listen ADDR also serves the OpenID AuthZEN Authorization API 1.0 over
HTTP (/access/v1/evaluation, /access/v1/evaluations,
/access/v1/search/{subject,resource,action} and
/.well-known/authzen-configuration), from the same bundle, decision log and
metrics, over TLS and mTLS with --tls-cert, --tls-key and --client-ca like
gRPC; --http-token-file requires a bearer token. The mapping from AuthZEN to
Cedar is the authzen: section of the repository's cedargate.yaml;
docs/authzen.md describes it.

--source oci://HOST/REPOSITORY:CHANNEL --cache DIR, in place of --store,
follows a registry channel (docs/oci.md): the channel is read every --poll
(with a backoff after failures), each bundle it names is downloaded once,
verified (--verify-key is required) and kept in DIR, from which a restarted
replica serves at once, whether or not the registry answers.

In a container with a memory limit, GOMEMLIMIT is set to 90% of it unless
the environment sets GOMEMLIMIT; AUTOMEMLIMIT=off turns this off,
AUTOMEMLIMIT=0.8 chooses another share.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := src.check(cmd, &sf); err != nil {
				return err
			}
			logger, err := newLogger(logFormat, logLevel)
			if err != nil {
				return usageError{err}
			}
			opts.Logger = logger
			limitMemory(logger, containerLimit(cmd.Context()))
			if opts.Extra, err = extauthzExtra(cmd, extauthzOn, extauthzFile, extauthzNS, logger); err != nil {
				return err
			}
			if opts.VerifyKeys, err = loadPublicKeys(verifyKeys); err != nil {
				return err
			}
			if opts.Source, err = src.open(&sf, opts.VerifyKeys, opts.Poll, logger); err != nil {
				return err
			}
			if err := opts.DecisionLog.OnFull.UnmarshalText([]byte(overflow)); err != nil {
				return usageError{fmt.Errorf("--decision-log-overflow: %w", err)}
			}
			if err := opts.RequestEntities.UnmarshalText([]byte(requestEntities)); err != nil {
				return usageError{fmt.Errorf("--request-entities: %w", err)}
			}
			if err := checkDecisionLogModes(opts); err != nil {
				return err
			}
			if opts.TLS, err = serverTLS(tlsCert, tlsKey, clientCA); err != nil {
				return err
			}
			if err := authzenHTTP(&opts, httpTokenFile, httpBaseURL); err != nil {
				return err
			}
			if asOf != "" {
				start, err := repo.ParseTime(asOf)
				if err != nil {
					return usageError{fmt.Errorf("--decide-as-of: %w", err)}
				}
				started := time.Now()
				opts.Clock = func() time.Time { return start.Add(time.Since(started)) }
				logger.Warn("deciding as of a fixed start instant, not the real clock", "decide_as_of", start.Format(time.RFC3339))
			}
			srv, err := pdp.New(opts)
			if err != nil {
				return err
			}
			return srv.Serve(cmd.Context())
		},
	}
	f := cmd.Flags()
	sf.add(cmd, "bundle store directory to serve (required, unless --source)")
	src.add(cmd)
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:9191", "gRPC listen address")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "127.0.0.1:9192", "HTTP listen address for /metrics, /healthz and /readyz (empty: none)")
	f.StringVar(&opts.DecisionLog.Path, "decision-log", "-", "decision log file (rotated), - for standard output, empty to turn it off")
	f.StringVar(&overflow, "decision-log-overflow", "drop", "when the decision log buffer is full: drop (and count) or block (up to --decision-log-block-timeout, then drop and count)")
	f.IntVar(&opts.DecisionLog.BufferSize, "decision-log-buffer", decisionlog.DefaultBufferSize, "decision log buffer, in entries")
	f.DurationVar(&opts.DecisionLog.BlockTimeout, "decision-log-block-timeout", decisionlog.DefaultBlockTimeout, "longest a decision waits for room in the decision log buffer in block mode")
	f.IntVar(&opts.DecisionLog.MaxSizeMB, "decision-log-max-size", decisionlog.DefaultMaxSizeMB, "rotate the decision log file at this size, in MiB")
	f.IntVar(&opts.DecisionLog.MaxBackups, "decision-log-max-backups", 10, "rotated decision log files to keep (0: all)")
	f.IntVar(&opts.DecisionLog.MaxAgeDays, "decision-log-max-age", 0, "delete rotated decision log files older than this many days (0: keep them)")
	f.BoolVar(&opts.DecisionLog.Compress, "decision-log-compress", false, "gzip rotated decision log files")
	f.BoolVar(&opts.DecisionLog.Sync, "decision-log-sync", false, "durable mode: answer a decision only once its decision log entry has been written to the operating system (it then survives kill -9, not a machine crash); a decision whose entry cannot be written is refused with UNAVAILABLE")
	f.BoolVar(&opts.DecisionLogRequired, "decision-log-required", false, "report NOT_SERVING (gRPC health and /readyz) while decision log entries are being lost, and refuse (UNAVAILABLE) decisions the log cannot take")
	f.StringArrayVar(&verifyKeys, "verify-key", nil, "ed25519 public key (PEM); bundles without a valid signature by one of the keys given are refused (repeat for several, e.g. during a key rotation)")
	f.StringVar(&tlsCert, "tls-cert", "", "serve gRPC over TLS with this certificate (PEM)")
	f.StringVar(&tlsKey, "tls-key", "", "private key of --tls-cert (PEM)")
	f.StringVar(&clientCA, "client-ca", "", "require client certificates signed by this CA (mTLS); the decision log then records the caller's identity")
	f.IntVar(&opts.Limits.MaxEntities, "max-request-entities", 0, fmt.Sprintf("most request-scoped entities per request (0: default %d)", wire.DefaultMaxEntities))
	f.IntVar(&opts.Limits.MaxDepth, "max-value-depth", 0, fmt.Sprintf("deepest value nesting per request (0: default %d)", wire.DefaultMaxDepth))
	f.IntVar(&opts.Limits.MaxValues, "max-request-values", 0, fmt.Sprintf("most values per request (0: default %d)", wire.DefaultMaxValues))
	f.IntVar(&opts.Limits.MaxBatch, "max-batch", 0, fmt.Sprintf("most requests per BatchAuthorize (0: default %d)", wire.DefaultMaxBatch))
	f.IntVar(&opts.Limits.MaxSetElements, "max-set-elements", 0, fmt.Sprintf("most elements of one set value (0: default %d)", wire.DefaultMaxSetElements))
	f.IntVar(&opts.Limits.MaxStringBytes, "max-string-bytes", 0, fmt.Sprintf("longest string value, entity type, id or key, in bytes (0: default %d)", wire.DefaultMaxStringBytes))
	f.StringVar(&requestEntities, "request-entities", engine.RefuseShadowing.String(), "what a request entity whose uid the bundle defines does: refuse-shadowing (INVALID_ARGUMENT), merge-attributes (bundle parents kept, request attributes and tags added) or replace (wholly, parents included)")
	f.BoolVar(&opts.ValidateRequests, "validate-requests", false, "refuse (INVALID_ARGUMENT) requests that do not match the bundle's schema; bundles without a schema are then refused")
	f.IntVar(&opts.MaxRecvMsgBytes, "max-message-bytes", pdp.DefaultMaxRecvMsgBytes, "largest request message")
	f.IntVar(&opts.StreamWorkers, "grpc-workers", 0, fmt.Sprintf("goroutines that take turns handling gRPC calls, so that their stacks grow once (0: %d per GOMAXPROCS; negative: a goroutine per call)", pdp.DefaultStreamWorkersPerProc))
	f.DurationVar(&opts.Poll, "poll", pdp.DefaultPoll, "re-read the store this often even without a change notification (0: default, negative: never); with --source, read the channel this often")
	f.DurationVar(&opts.MaxStaleness, "max-staleness", 0, "report NOT_SERVING and answer UNAVAILABLE while the store (with --source, the channel) has not been confirmed for longer than this (fail closed); 0: keep serving the last good bundle")
	f.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", pdp.DefaultShutdownTimeout, "longest shutdown waits for requests in flight")
	f.StringVar(&asOf, "decide-as-of", "", "decide as if the clock had started at this instant (RFC 3339 or YYYY-MM-DD): for demos, replays and tests, never in production")
	f.StringVar(&logFormat, "log-format", "json", "server log format: json or text")
	f.StringVar(&logLevel, "log-level", "info", "server log level: debug, info, warn or error")
	f.BoolVar(&extauthzOn, "extauthz", false, "also serve Envoy's ext_authz API (envoy.service.auth.v3.Authorization) on --listen")
	f.StringVar(&extauthzFile, "extauthz-config", "", "YAML file mapping Envoy's requests to Cedar requests (default: the mapping in docs/envoy.md)")
	f.StringVar(&extauthzNS, "extauthz-namespace", "", "Cedar namespace of ext_authz actions and resources, e.g. Acme (overrides namespace in --extauthz-config)")
	f.StringVar(&opts.HTTPListen, "http-listen", "", "also serve the AuthZEN Authorization API over HTTP on this address, with --tls-cert/--client-ca like gRPC (empty: none)")
	f.StringVar(&httpTokenFile, "http-token-file", "", "require a bearer token of this file (one per line) on the AuthZEN API; needs --http-listen")
	f.StringVar(&httpBaseURL, "http-base-url", "", "the PDP's URL in the AuthZEN metadata, e.g. https://pdp.example.com (default: the URL each request was sent to); needs --http-listen")
	return cmd
}

// authzenHTTP sets opts up to serve the AuthZEN API as the --http flags
// say: on --http-listen, with the gRPC listener's TLS configuration and
// request limits, and the bearer tokens of --http-token-file. A bad flag
// is a usage error, reported before anything starts.
func authzenHTTP(opts *pdp.Options, tokenFile, baseURL string) error {
	if opts.HTTPListen == "" {
		if tokenFile != "" || baseURL != "" {
			return usageError{errors.New("--http-token-file and --http-base-url need --http-listen")}
		}
		return nil
	}
	az := authzen.Options{Limits: opts.Limits, MaxBodyBytes: int64(opts.MaxRecvMsgBytes), BaseURL: baseURL, Logger: opts.Logger}
	if tokenFile != "" {
		tokens, err := readTokens(tokenFile)
		if err != nil {
			return usageError{fmt.Errorf("--http-token-file: %w", err)}
		}
		az.Tokens = tokens
	}
	opts.HTTPTLS = opts.TLS
	opts.HTTP = authzen.HTTP(az)
	return nil
}

// readTokens reads bearer tokens, one per line; blank lines are skipped.
// Errors never quote the file's content: it is secret.
func readTokens(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var tokens []string
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return nil, fmt.Errorf("%s:%d: a token is printable ASCII without spaces", file, i+1)
		}
		tokens = append(tokens, t)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s holds no token", file)
	}
	return tokens, nil
}

// extauthzExtra returns the pdp.Options.Extra that serves ext_authz as the
// --extauthz flags say, or nil when it is off. A bad configuration is a
// usage error, reported before anything starts.
func extauthzExtra(cmd *cobra.Command, on bool, file, ns string, logger *slog.Logger) (func(grpc.ServiceRegistrar, *pdp.Server), error) {
	nsSet := cmd.Flags().Changed("extauthz-namespace")
	if !on {
		if file != "" || nsSet {
			return nil, usageError{errors.New("--extauthz-config and --extauthz-namespace need --extauthz")}
		}
		return nil, nil
	}
	var cfg extauthz.Config
	if file != "" {
		var err error
		if cfg, err = extauthz.LoadConfig(file); err != nil {
			return nil, usageError{fmt.Errorf("--extauthz-config: %w", err)}
		}
	}
	if nsSet {
		cfg.Namespace = ns
	}
	m, err := extauthz.NewMapper(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	return extauthz.Extra(m, logger), nil
}

// checkDecisionLogModes refuses the decision log modes without a decision
// log to apply them to.
func checkDecisionLogModes(opts pdp.Options) error {
	if opts.DecisionLog.Path != "" {
		return nil
	}
	if opts.DecisionLog.Sync {
		return usageError{errors.New("--decision-log-sync needs a --decision-log")}
	}
	if opts.DecisionLogRequired {
		return usageError{errors.New("--decision-log-required needs a --decision-log")}
	}
	return nil
}

// loadPublicKeys reads the --verify-key files.
func loadPublicKeys(files []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--verify-key: %w", err)
		}
		k, err := bundle.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("--verify-key %s: %w", f, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func newLogger(format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, hopts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text, not %q", format)
}

func serverTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" && caFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := certPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func certPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// connFlags are the flags of commands that call a PDP.
type connFlags struct {
	addr, caFile, certFile, keyFile string
	timeout                         time.Duration
}

func (c *connFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.addr, "addr", "127.0.0.1:9191", "PDP gRPC address")
	c.addTLS(cmd)
}

// addTLS adds the connection flags other than the address.
func (c *connFlags) addTLS(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.caFile, "tls-ca", "", "use TLS, trusting this CA (PEM); without it the connection is plaintext")
	f.StringVar(&c.certFile, "tls-cert", "", "client certificate for mTLS (PEM)")
	f.StringVar(&c.keyFile, "tls-key", "", "key of --tls-cert (PEM)")
	f.DurationVar(&c.timeout, "timeout", 5*time.Second, "deadline of the call")
}

func (c *connFlags) dial() (*grpc.ClientConn, error) { return c.dialAddr(c.addr) }

// validate refuses connection flags that would not do what they say.
func (c *connFlags) validate() error {
	if (c.certFile != "" || c.keyFile != "") && c.caFile == "" {
		return usageError{errors.New("--tls-cert and --tls-key need --tls-ca: without it the connection is plaintext")}
	}
	return nil
}

func (c *connFlags) dialAddr(addr string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.caFile != "" {
		pool, err := certPool(c.caFile)
		if err != nil {
			return nil, err
		}
		cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if c.certFile != "" {
			cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
			if err != nil {
				return nil, err
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		creds = credentials.NewTLS(cfg)
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
}

func checkCmd() *cobra.Command {
	var conn connFlags
	var principal, action, resource, contextJSON, entitiesJSON string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   `check --principal UID --action UID --resource UID`,
		Short: "Ask a running PDP for one decision",
		Long: `Check sends one Authorize request to the PDP at --addr and prints the
decision, the determining policies with their source (file:line:column), any
evaluation errors, the decision id and the bundle revision that decided.

It first asks the PDP for the schema of the bundle it serves
(AdminService.GetSchema) and reads the request by it, as decision tests and
eval do: UIDs may be short (User/alice, Acme::User/alice, an action by its
name: read) or Cedar UIDs ('Acme::User::"alice"'); --context is a JSON
object whose strings become ipaddr, decimal, datetime, duration or entity
values where the schema declares them ({"source_ip": "10.1.1.1"}), and
Cedar's JSON value format works too ({"src": {"__extn": {"fn": "ip", "arg":
"10.0.0.1"}}}); --entities is a JSON array of Cedar JSON entities,
request-scoped, their attributes converted the same way.
Exit code 0 for allow, 1 for deny, 2 when the request does not read, 3 when
no decision was made.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The request's syntax is checked before the PDP is called, so
			// a typo is a usage error whether or not the PDP is up.
			plain := cedarjson.New(nil, "")
			for _, p := range []struct{ name, val string }{{"principal", principal}, {"action", action}, {"resource", resource}} {
				if p.val == "" {
					return usageError{fmt.Errorf("--%s is required", p.name)}
				}
				read := plain.UID
				if p.name == "action" {
					read = plain.ActionUID
				}
				if _, err := read(p.val); err != nil {
					return usageError{fmt.Errorf("--%s: %w", p.name, err)}
				}
			}
			for _, j := range []struct{ name, val string }{{"context", contextJSON}, {"entities", entitiesJSON}} {
				if j.val != "" && !json.Valid([]byte(j.val)) {
					return usageError{fmt.Errorf("--%s is not valid JSON", j.name)}
				}
			}
			if err := conn.validate(); err != nil {
				return err
			}
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), conn.timeout)
			defer cancel()
			c := client.New(cc)
			conv, _, err := c.Converter(ctx)
			if status.Code(err) == codes.Unimplemented {
				// A PDP older than GetSchema: Cedar JSON and UIDs as written.
				conv, err = plain, nil
			}
			if err != nil {
				return codeError{exitFailure, fmt.Errorf("no decision: reading the schema the PDP serves: %w", err)}
			}
			r, err := checkRequest(conv, principal, action, resource, contextJSON, entitiesJSON)
			if err != nil {
				return usageError{err}
			}
			d, err := c.Authorize(ctx, r)
			if err != nil {
				return codeError{exitFailure, fmt.Errorf("no decision: %w", err)}
			}
			printDecision(cmd, d, asJSON)
			if !d.Allow {
				return codeError{code: exitProblems}
			}
			return nil
		},
	}
	conn.add(cmd)
	f := cmd.Flags()
	f.StringVar(&principal, "principal", "", `principal: User/alice or a Cedar UID such as 'Acme::User::"alice"' (required)`)
	f.StringVar(&action, "action", "", `action: its name (read) or a Cedar UID such as 'Acme::Action::"read"' (required)`)
	f.StringVar(&resource, "resource", "", `resource: Type/id or a Cedar UID (required)`)
	f.StringVar(&contextJSON, "context", "", `request context, a JSON object converted by the schema ({"source_ip": "10.1.1.1"})`)
	f.StringVar(&entitiesJSON, "entities", "", "request-scoped entities as a JSON array")
	f.BoolVar(&asJSON, "json", false, "print the decision as JSON")
	return cmd
}

// checkRequest reads check's flags by conv.
func checkRequest(conv *cedarjson.Converter, principal, action, resource, contextJSON, entitiesJSON string) (client.Request, error) {
	var r client.Request
	var err error
	if r.Principal, err = conv.UID(principal); err != nil {
		return r, fmt.Errorf("--principal: %w", err)
	}
	if r.Action, err = conv.ActionUID(action); err != nil {
		return r, fmt.Errorf("--action: %w", err)
	}
	if r.Resource, err = conv.UID(resource); err != nil {
		return r, fmt.Errorf("--resource: %w", err)
	}
	if contextJSON != "" {
		if r.Context, err = conv.Context(r.Action, []byte(contextJSON)); err != nil {
			return r, fmt.Errorf("--context: %w", err)
		}
	}
	if entitiesJSON != "" {
		if r.Entities, err = conv.Entities([]byte(entitiesJSON)); err != nil {
			return r, fmt.Errorf("--entities: %w", err)
		}
	}
	return r, nil
}

func printDecision(cmd *cobra.Command, d client.Decision, asJSON bool) {
	w := cmd.OutOrStdout()
	if asJSON {
		// The API's field names, as grpcurl would print the response.
		type ref struct {
			ID     string `json:"id"`
			Source string `json:"source"`
		}
		type evalErr struct {
			PolicyID string `json:"policy_id"`
			Message  string `json:"message"`
		}
		out := struct {
			Decision            string     `json:"decision"`
			DeterminingPolicies []ref      `json:"determining_policies"`
			Errors              []evalErr  `json:"errors"`
			DecisionID          string     `json:"decision_id"`
			Bundle              bundle.Ref `json:"bundle"`
		}{Decision: "deny", DeterminingPolicies: []ref{}, Errors: []evalErr{}, DecisionID: d.ID, Bundle: d.Bundle}
		if d.Allow {
			out.Decision = "allow"
		}
		for _, r := range d.Reasons {
			out.DeterminingPolicies = append(out.DeterminingPolicies, ref{r.ID, r.Source})
		}
		for _, e := range d.Errors {
			out.Errors = append(out.Errors, evalErr{e.PolicyID, e.Message})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	word := "DENY"
	if d.Allow {
		word = "ALLOW"
	}
	fmt.Fprintln(w, word)
	if len(d.Reasons) == 0 && !d.Allow {
		fmt.Fprintln(w, "  no policy applies (default deny)")
	}
	for _, p := range d.Reasons {
		fmt.Fprintf(w, "  by %s  (%s)\n", p.ID, p.Source)
	}
	for _, e := range d.Errors {
		fmt.Fprintf(w, "  error in %s: %s\n", e.PolicyID, e.Message)
	}
	fmt.Fprintf(w, "  decision %s, bundle %s (%s, %s)\n", d.ID, d.Bundle.Revision, d.Bundle.Environment, bundle.ShortDigest(d.Bundle.Digest))
}

func demoCmd() *cobra.Command {
	var opts demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build examples/acme, serve it on loopback and show decisions",
		Long: `Demo builds the example repository (examples/acme, from the cedargate
checkout) for prod, judging its guardrails as of the date it was written for,
starts a PDP on a loopback port, asks it a few questions over gRPC (an allow
by entitlement, denies by forbid and by an expired grant), stops it
gracefully and prints the decision log. Nothing is left behind.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out = cmd.OutOrStdout()
			return demo.Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Repo, "repo", demo.DefaultRepo, "identity repository to demonstrate")
	cmd.Flags().StringVar(&opts.Env, "env", demo.DefaultEnv, "environment to build")
	return cmd
}
