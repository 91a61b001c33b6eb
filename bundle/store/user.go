package store

import (
	"os"
	"os/user"
	"strconv"
)

// UnknownUser stands for the user of a history entry that recorded none
// (entries written before the user was always recorded).
const UnknownUser = "unknown"

// CurrentUser names who runs the command, for the history, and is never
// empty: $USER when it is set, else the account the process runs as, else
// "uid:<n>". $USER comes first because it is how an operator is named
// where the process's own account says nothing: the Kubernetes Jobs in
// deploy/ run as the image's "nonroot" user and pass the operator's name
// in USER.
func CurrentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid:" + strconv.Itoa(os.Getuid())
}
