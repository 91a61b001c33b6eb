// Package version holds the cedargate version, set at link time by the
// Makefile (-ldflags "-X github.com/cedargate/cedargate/internal/version.Version=...").
package version

// Version is the cedargate release or "dev". It is a variable only so that
// the linker can set it; nothing assigns it at run time.
var Version = "dev"

// String returns the version as recorded in bundles and status:
// "cedargate <version>".
func String() string { return "cedargate " + Version }
