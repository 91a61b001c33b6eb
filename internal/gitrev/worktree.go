package gitrev

import (
	"context"
	"os/exec"
	"strings"
)

// InWorkTree reports whether dir is in a Git work tree (false too when git
// is not installed). Unlike Describe it only asks git where it is: it does
// not look at the work tree's files.
func InWorkTree(ctx context.Context, dir string) (bool, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return false, nil
	}
	out, err := git(ctx, dir, "rev-parse", "--is-inside-work-tree")
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return err == nil && strings.TrimSpace(out) == "true", nil
}
