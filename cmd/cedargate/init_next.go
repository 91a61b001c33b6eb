package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/internal/gitrev"
)

// printInitNext prints what init made and the build command to run next,
// written so that it works verbatim from the current directory: the store
// goes beside the repository (never inside it, where it would make a Git
// work tree dirty), and inside a Git work tree the uncommitted scaffold
// needs --allow-dirty, or --revision before the first commit.
func printInitNext(cmd *cobra.Command, dir string) error {
	store := filepath.Join(filepath.Dir(filepath.Clean(dir)), "stores", "dev")
	if filepath.Clean(dir) == "." {
		store = filepath.Join("..", "stores", "dev")
	}
	next := "cedargate build"
	if filepath.Clean(dir) != "." {
		next += " " + shellQuote(dir)
	}
	next += " --env dev --store " + shellQuote(store) + " --activate"
	inGit, err := gitrev.InWorkTree(cmd.Context(), dir)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "initialised %s\n", dir)
	if inGit {
		// build names the bundle after the Git commit and refuses
		// uncommitted files; say how to build before the first commit.
		info, err := gitrev.Describe(cmd.Context(), dir)
		switch {
		case err != nil && cmd.Context().Err() != nil:
			return err
		case err != nil:
			fmt.Fprintf(w, "%s is in a Git repository without commits: commit it to build a revision named after the commit; until then name it with --revision\n", dir)
			next += " --revision scaffold"
		case info.Dirty:
			fmt.Fprintf(w, "%s is in a Git work tree: commit it to build a clean revision; until then build with --allow-dirty\n", dir)
			next += " --allow-dirty"
		}
	}
	fmt.Fprintf(w, "next: %s\n", next)
	return nil
}

// shellQuote writes s as one POSIX shell word: as is when it holds only
// characters no shell treats specially, in single quotes otherwise.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./+=:,@", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
