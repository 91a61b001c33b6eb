package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/repo"
)

// This file holds what the commands that read what identity code means
// (access, diff, review) share: the instant they judge at, their output
// format, and how a failure on their input exits.

// atFlag adds --at, the instant time-bound grants are judged at.
func atFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "at", "", "judge time-bound grants and expiry as of this instant (RFC 3339 or YYYY-MM-DD; default now)")
}

// parseAt parses --at; empty is now.
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	t, err := repo.ParseTime(s)
	if err != nil {
		return t, usageError{fmt.Errorf("--at: %w", err)}
	}
	return t, nil
}

// formatFlag adds --format with the allowed values, the first the default.
func formatFlag(cmd *cobra.Command, dst *string, allowed ...string) {
	cmd.Flags().StringVar(dst, "format", allowed[0], "output format: "+strings.Join(allowed, ", "))
}

// checkFormat refuses a --format value not in allowed.
func checkFormat(format string, allowed ...string) error {
	if !slices.Contains(allowed, format) {
		return usageError{fmt.Errorf("--format must be one of %s, not %q", strings.Join(allowed, ", "), format)}
	}
	return nil
}

// inputError makes err, a failure on the command's input (a repository or
// revision that does not build, an unknown UID, a damaged store), exit 2;
// a command stopped by a signal keeps the signal's code.
func inputError(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	return codeError{exitUsage, err}
}

// compileSource compiles env of the repository at dir at the Git
// revision rev, or as the work tree is when rev is empty, counting
// relative dates from the day of at, the instant the command judges.
func compileSource(ctx context.Context, dir, env, rev string, at time.Time) (*build.Compiled, error) {
	if rev == "" {
		return build.CompileWorkTreeAt(ctx, dir, env, at)
	}
	c, _, err := build.CompileRevisionAt(ctx, dir, rev, env, at)
	return c, err
}
