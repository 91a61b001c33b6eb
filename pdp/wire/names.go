package wire

import (
	"strconv"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
)

// isReserved reports whether Cedar forbids w as a segment of a name, as
// cedar-go's scanner lists them. It only serves to explain a refusal: the
// verdict itself is types.NewEntityType's, so it cannot drift from
// cedar-go's.
func isReserved(w string) bool {
	switch w {
	case "true", "false", "if", "then", "else", "in", "like", "has", "is", "__cedar":
		return true
	}
	return false
}

// entityType checks that s is a Cedar entity type name: identifiers
// (ASCII letters, digits and _, not starting with a digit, not reserved)
// joined by "::". It returns nil or the reason s is not one.
func entityType(s string) *FieldError {
	if s == "" {
		return required()
	}
	if _, err := types.NewEntityType(s); err == nil {
		return nil
	}
	return &FieldError{Reason: Quote(s) + " is not a valid Cedar entity type: " + whyNotType(s)}
}

// whyNotType explains why s, which cedar-go refused as an entity type,
// is not one.
func whyNotType(s string) string {
	segs := strings.Split(s, "::")
	for i, seg := range segs {
		where := ""
		if len(segs) > 1 {
			where = "segment " + strconv.Itoa(i+1) + " "
		}
		if seg == "" {
			return where + "is empty (want identifiers joined by \"::\")"
		}
		for j, r := range seg {
			ok := r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || j > 0 && '0' <= r && r <= '9'
			if !ok {
				return where + Quote(seg) + " holds " + strconv.QuoteRune(r) + " at byte " + strconv.Itoa(j) +
					" (an identifier is ASCII letters, digits and _, not starting with a digit)"
			}
		}
		if isReserved(seg) {
			return where + Quote(seg) + " is a reserved word"
		}
	}
	// Unreachable while the rules above match cedar-go's; the test that
	// compares them tells when cedar-go changes.
	return "cedar-go refuses it"
}
