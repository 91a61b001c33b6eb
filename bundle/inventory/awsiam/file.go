package awsiam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes, the most read (MaxFileSize)", file, limit)
	}
	return data, nil
}

// jsonError describes a decoding error of data with the line and column
// of its offset, which encoding/json reports only as a byte count.
func jsonError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the offending byte as read; point at it.
		return position(data, max(syn.Offset-1, 0)) + ": " + err.Error()
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s: %s is %s, want %s", position(data, typ.Offset), typ.Field, typ.Value, typ.Type)
		}
		return position(data, typ.Offset) + ": " + err.Error()
	}
	return err.Error()
}

func position(data []byte, off int64) string {
	off = min(off, int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d:%d", line, col)
}
