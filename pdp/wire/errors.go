package wire

import (
	"context"
	"errors"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FieldError reports a request that is malformed or over a limit: which
// field, and what is wrong with it. Its text is meant for the API caller
// and holds nothing but the caller's own input and the rule it broke.
type FieldError struct {
	// Field is the path of the offending field from the message the
	// decoder was given, in the API's field names: `principal.type`,
	// `context["src_ip"].extension.arg`, `entities[3].attrs["tags"].set[0]`,
	// `requests[2].resource.id`. Map keys are quoted as in Go; long keys
	// are shortened. Empty when the message itself is at fault (for
	// example a nil request).
	Field string
	// Reason says what is wrong, e.g. "required" or
	// `"10.0.0.300" is not a valid ip (...)`.
	Reason string
}

// Error renders the error as "field: reason".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// under prefixes e's path with the path of the field that holds it, as the
// error travels up the decoder; paths are built only for a refused request,
// so a valid one costs nothing.
func (e *FieldError) under(prefix string) *FieldError {
	e.Field = prefix + e.Field
	return e
}

// exported returns e as an error for an exported function: its path
// relative to the function's argument, without the leading dot the
// decoder's internal paths start with, and nil for no error (so that a nil
// *FieldError never becomes a non-nil error).
func (e *FieldError) exported() error {
	if e == nil {
		return nil
	}
	if len(e.Field) > 0 && e.Field[0] == '.' {
		e.Field = e.Field[1:]
	}
	return e
}

// Status maps an error of a decision RPC to the gRPC status error the
// server returns: a [*FieldError] anywhere in err's chain becomes
// INVALID_ARGUMENT with the FieldError's text (and nothing of what wraps
// it); an error that already is a gRPC status is returned as it is;
// context cancellation and deadlines become CANCELLED and
// DEADLINE_EXCEEDED; anything else becomes INTERNAL with a fixed message,
// so that internal causes never reach callers (log them instead). Status
// returns nil for nil.
func Status(err error) error {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return status.Error(codes.InvalidArgument, fe.Error())
	}
	// Only a status error itself passes through: status.FromError would
	// also accept a wrapped one, but then with the wrapper's full text as
	// the message.
	if se, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return se.GRPCStatus().Err()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded before a decision was made")
	}
	return status.Error(codes.Internal, "internal error; no decision was made")
}

// maxShown is how many bytes of a caller's string an error message shows:
// enough to recognise it, while a 64 KiB key cannot bloat the message
// (which travels in a gRPC trailer).
const maxShown = 64

// Quote renders a caller's string for an error message: Go-quoted, so
// that control characters and invalid UTF-8 are visible, and cut after 64
// bytes with an ellipsis outside the quotes. Front ends that report their
// own field errors use it too.
func Quote(s string) string {
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// keyPath is the path segment of map entry k.
func keyPath(k string) string { return "[" + Quote(k) + "]" }

// indexPath is the path segment of list element i.
func indexPath(i int) string { return "[" + strconv.Itoa(i) + "]" }

// required is the error of a field that must be set.
func required() *FieldError { return &FieldError{Reason: "required"} }

// tooLong is the error of a string over MaxStringBytes.
func tooLong(n, limit int) *FieldError {
	return &FieldError{Reason: strconv.Itoa(n) + " bytes, more than the limit of " + strconv.Itoa(limit)}
}

// notUTF8 is the error of a string that is not valid UTF-8. proto.Unmarshal
// already refuses such strings; messages built in-process are not checked
// by it.
func notUTF8() *FieldError { return &FieldError{Reason: "not valid UTF-8"} }
