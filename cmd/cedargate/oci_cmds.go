package main

import (
	"cmp"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
)

// registryFlags are the flags of commands that talk to a registry.
type registryFlags struct {
	plainHTTP bool
}

func (f *registryFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.plainHTTP, "plain-http", false, "talk HTTP, not HTTPS, to the registry (oci://…): for a registry on loopback or in a test only")
}

// open opens the repository ref names, reading bundles up to maxBundle
// bytes. Credentials come from Docker's configuration file.
func (f *registryFlags) open(ref oci.Reference, maxBundle int64) (*oci.Repository, error) {
	return oci.Open(ref, oci.Options{PlainHTTP: f.plainHTTP, MaxBundleBytes: maxBundle})
}

// channelFlags are the flags of rollout and rollback on a channel: the
// key that signs its new document and the keys trusted for its current
// one and for the bundle.
type channelFlags struct {
	registryFlags
	signKey    string
	verifyKeys []string
}

func (f *channelFlags) add(cmd *cobra.Command) {
	f.registryFlags.add(cmd)
	cmd.Flags().StringVar(&f.signKey, "sign-key", "", "with oci://…: ed25519 private key (PEM, PKCS #8) that signs the channel (required there)")
	cmd.Flags().StringArrayVar(&f.verifyKeys, "verify-key", nil, "with oci://…: ed25519 public key (PEM) trusted for the channel's current signature and required on the bundle's (repeat for several; default: the --sign-key's own)")
}

// moveOptions reads the keys.
func (f *channelFlags) moveOptions() (oci.MoveOptions, error) {
	if err := requireFlag("sign-key", f.signKey); err != nil {
		return oci.MoveOptions{}, err
	}
	key, err := loadPrivateKey(f.signKey)
	if err != nil {
		return oci.MoveOptions{}, err
	}
	keys, err := loadPublicKeys(f.verifyKeys)
	if err != nil {
		return oci.MoveOptions{}, err
	}
	o := oci.MoveOptions{SignKey: key, VerifyKeys: keys, BundleKeys: keys, Now: time.Now()}
	if len(keys) == 0 {
		// Without --verify-key the replicas are expected to trust the
		// key that signs the channel: a bundle it does not verify would
		// be refused by every one of them.
		o.BundleKeys = []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	}
	return o, nil
}

// loadPrivateKey reads a --sign-key file.
func loadPrivateKey(file string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--sign-key: %w", err)
	}
	key, err := bundle.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("--sign-key %s: %w", file, err)
	}
	return key, nil
}

// storeOrChannel is the Args of rollout, rollback and history: the
// positional arguments names says, then optionally an oci:// channel.
func storeOrChannel(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) == len(names)+1 && oci.IsReference(a[len(a)-1]) {
			return nil
		}
		return args(names...)(cmd, a)
	}
}

// channelArg returns the channel a rollout, rollback or history names
// after its first n arguments, or nil when it works on a store. It
// refuses the flags that belong to the other kind of target.
func channelArg(cmd *cobra.Command, a []string, n int) (*oci.Reference, error) {
	channelOnly := []string{"plain-http", "sign-key", "verify-key"}
	if len(a) == n {
		for _, name := range channelOnly {
			if cmd.Flags().Changed(name) {
				return nil, usageError{fmt.Errorf("--%s applies to a registry channel (oci://HOST/REPOSITORY:CHANNEL), not to --store", name)}
			}
		}
		return nil, nil
	}
	if cmd.Flags().Changed("store") {
		return nil, usageError{errors.New("give either --store or a registry channel (oci://…), not both")}
	}
	ref, err := oci.ParseChannel(a[n])
	if err != nil {
		return nil, usageError{err}
	}
	return &ref, nil
}

// checkLimit refuses a --max-bundle-bytes that is not positive, for
// commands that read bundles from a registry rather than --store.
func (f *storeFlags) checkLimit() error {
	if f.maxBundleBytes <= 0 {
		return usageError{fmt.Errorf("--max-bundle-bytes must be positive, not %d", f.maxBundleBytes)}
	}
	return nil
}

func pushCmd() *cobra.Command {
	var sf storeFlags
	var rf registryFlags
	var rev string
	cmd := &cobra.Command{
		Use:   "push --store STORE --revision REVISION oci://HOST/REPOSITORY",
		Short: "Upload a stored bundle to an OCI registry",
		Long: `Push uploads the bundle of REVISION (or the one stored revision it is a
prefix of) from STORE to the registry repository as an OCI artifact tagged
rev-REVISION (revh-<sha256 of REVISION> for a revision that is not a valid
tag), with its signature inside it. It does not roll it out: "cedargate
rollout REVISION oci://HOST/REPOSITORY:CHANNEL" does. Pushing a revision
already pushed with the same bundle changes nothing; a different bundle
under it is refused. Only signed bundles are pushed, since replicas
following a registry verify signatures. Credentials come from the Docker
configuration file ($DOCKER_CONFIG/config.json or ~/.docker/config.json)
and its credential helpers. docs/oci.md describes the artifact.`,
		Args: args("oci://HOST/REPOSITORY"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := requireFlag("revision", rev); err != nil {
				return err
			}
			ref, err := oci.ParseRepository(a[0])
			if err != nil {
				return usageError{err}
			}
			st, err := sf.openReadOnly()
			if err != nil {
				return err
			}
			b, err := st.LoadRevision(rev, nil)
			if err != nil {
				return err
			}
			if b.Signature == nil {
				return fmt.Errorf("bundle %s is not signed: replicas following a registry channel refuse unsigned bundles; build it with --sign-key", b.Manifest.Revision)
			}
			archive, err := os.ReadFile(st.BundlePath(b.Manifest.Revision))
			if err != nil {
				return err
			}
			repo, err := rf.open(ref, sf.maxBundleBytes)
			if err != nil {
				return err
			}
			art, existed, err := repo.Push(cmd.Context(), archive)
			if err != nil {
				return err
			}
			verb := "pushed"
			if existed {
				verb = "already pushed"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s) as %s\nmanifest %s, bundle digest %s, signed by key %s\n", verb, art.Revision, art.Environment,
				ref.WithTag(art.Tag), art.Manifest.Digest, art.Digest, b.Signature.KeyID)
			return nil
		},
	}
	sf.add(cmd, "bundle store directory holding the revision (required)")
	cmd.Flags().StringVar(&rev, "revision", "", "revision to push, or a unique prefix of a stored one (required)")
	rf.add(cmd)
	return cmd
}

// rolloutChannel rolls out rev to a registry channel.
func rolloutChannel(cmd *cobra.Command, ch oci.Reference, rev string, sf *storeFlags, cf *channelFlags) error {
	repo, o, err := cf.openChannel(ch, sf)
	if err != nil {
		return err
	}
	m, err := repo.Rollout(cmd.Context(), ch.Tag, rev, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "rolled out %s to %s (sequence %d, previous: %s)\n", m.Revision, ch, m.Sequence, orNone(previousRevision(m)))
	return nil
}

// rollbackChannel rolls a registry channel back.
func rollbackChannel(cmd *cobra.Command, ch oci.Reference, sf *storeFlags, cf *channelFlags) error {
	repo, o, err := cf.openChannel(ch, sf)
	if err != nil {
		return err
	}
	m, err := repo.Rollback(cmd.Context(), ch.Tag, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "rolled %s back to %s (was %s; sequence %d)\n", ch, m.Revision, previousRevision(m), m.Sequence)
	return nil
}

// openChannel checks the flags of a move and opens the channel's
// repository.
func (f *channelFlags) openChannel(ch oci.Reference, sf *storeFlags) (*oci.Repository, oci.MoveOptions, error) {
	if err := sf.checkLimit(); err != nil {
		return nil, oci.MoveOptions{}, err
	}
	o, err := f.moveOptions()
	if err != nil {
		return nil, o, err
	}
	repo, err := f.open(ch, sf.maxBundleBytes)
	return repo, o, err
}

func previousRevision(m oci.Move) string {
	if m.Previous == nil {
		return ""
	}
	return m.Previous.Revision
}

// historyChannel prints a registry channel's history, newest first.
func historyChannel(cmd *cobra.Command, ch oci.Reference, rf *registryFlags, verifyKeys []string, asJSON bool) error {
	keys, err := loadPublicKeys(verifyKeys)
	if err != nil {
		return err
	}
	repo, err := rf.open(ch, 0)
	if err != nil {
		return err
	}
	c, err := repo.ReadChannel(cmd.Context(), ch.Tag, keys)
	if err != nil {
		return err
	}
	h := slices.Clone(c.History)
	slices.Reverse(h)
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(h)
	}
	printChannelHistory(cmd.OutOrStdout(), ch, c, h)
	return nil
}

// printChannelHistory prints a channel's moves, newest first, under a
// line that says what it serves and whether its signature was checked.
func printChannelHistory(w io.Writer, ch oci.Reference, c *oci.ReadChannel, h []oci.Move) {
	trust := "signature not checked (give --verify-key)"
	if c.Verified {
		trust = "signature verified"
	}
	fmt.Fprintf(w, "%s: %s (%s), sequence %d, signed by key %s, %s\n", ch, c.Active.Revision, c.Environment, c.Sequence, orNone(c.KeyID), trust)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSEQ\tACTION\tREVISION\tDIGEST\tPREVIOUS\tUSER\t")
	for i, m := range h {
		mark := ""
		if i == 0 {
			mark = " (active)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s%s\t%s\t%s\t%s\t\n", m.Time.Format(time.RFC3339), m.Sequence, m.Action, m.Revision, mark,
			bundle.ShortDigest(m.Digest), orNone(previousRevision(m)), cmp.Or(m.User, store.UnknownUser))
	}
	_ = tw.Flush()
}

// sourceFlags are serve's flags for a registry channel: --source, --cache
// and --plain-http.
type sourceFlags struct {
	registryFlags
	source, cache string
}

func (f *sourceFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.source, "source", "", "serve the registry channel oci://HOST/REPOSITORY:CHANNEL instead of --store (needs --cache and --verify-key)")
	cmd.Flags().StringVar(&f.cache, "cache", "", "with --source: directory that keeps the bundles the channel named, so that a restarted replica serves at once (created if missing; one per channel)")
	f.registryFlags.add(cmd)
}

// check refuses a command line that does not name one source.
func (f *sourceFlags) check(cmd *cobra.Command, sf *storeFlags) error {
	if f.source == "" {
		for _, name := range []string{"cache", "plain-http"} {
			if cmd.Flags().Changed(name) {
				return usageError{fmt.Errorf("--%s applies to a registry channel (--source oci://…)", name)}
			}
		}
		return sf.check()
	}
	if sf.dir != "" {
		return usageError{errors.New("give either --store or --source, not both")}
	}
	if _, err := oci.ParseChannel(f.source); err != nil {
		return usageError{fmt.Errorf("--source: %w (a directory is --store)", err)}
	}
	if err := requireFlag("cache", f.cache); err != nil {
		return err
	}
	return sf.checkLimit()
}

// open opens the source serve follows: the store, or the registry channel
// with its cache, polled every poll (the default when not positive).
func (f *sourceFlags) open(sf *storeFlags, keys []ed25519.PublicKey, poll time.Duration, logger *slog.Logger) (pdp.Source, error) {
	if f.source == "" {
		return sf.openForServing()
	}
	if len(keys) == 0 {
		return nil, usageError{errors.New("--source needs --verify-key: a registry channel and its bundles are signed")}
	}
	ch, err := oci.ParseChannel(f.source)
	if err != nil {
		return nil, usageError{err}
	}
	return oci.NewSource(ch, oci.SourceOptions{
		Options:    oci.Options{PlainHTTP: f.plainHTTP, MaxBundleBytes: sf.maxBundleBytes},
		Cache:      f.cache,
		VerifyKeys: keys,
		Poll:       poll,
		Logger:     logger,
	})
}

var (
	_ pdp.Source   = (*oci.Source)(nil)
	_ pdp.Upstream = (*oci.Source)(nil)
)
