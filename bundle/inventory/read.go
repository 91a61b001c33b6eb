package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned by ReadAll for input over its limit.
var ErrTooLarge = errors.New("input larger than the limit")

// ReadAll reads r whole, refusing rather than truncating input of more
// than limit bytes (a truncated document would decode as malformed, or
// worse, as fewer objects): it then returns an error wrapping
// ErrTooLarge, which callers reword with the setting that sets limit.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	return data, nil
}

// JSONError describes err, from decoding data, with the line and column
// of its offset, which encoding/json reports only as a byte count.
func JSONError(data []byte, err error) string {
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

// position renders byte offset off of data as "line L:C".
func position(data []byte, off int64) string {
	off = min(off, int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d:%d", line, col)
}
