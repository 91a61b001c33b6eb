package awsiam

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// MaxFileSize is the largest file read, in bytes. The authorization
// details of an account at IAM's quotas (5,000 users, 1,000 roles by
// default, policies included) are tens of MiB; a larger file is more
// likely a mistake than an account.
const MaxFileSize = 256 << 20

// readFile reads file whole, refusing one over limit bytes.
func readFile(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, file, limit)
}

func readAll(r io.Reader, file string, limit int64) ([]byte, error) {
	data, err := inventory.ReadAll(r, limit)
	switch {
	case errors.Is(err, inventory.ErrTooLarge):
		return nil, fmt.Errorf("%s: more than %d bytes, the most read (MaxFileSize)", file, limit)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return data, nil
}
