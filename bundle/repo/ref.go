package repo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
)

// Ref is a reference to an entity as written in an identity file. Three
// forms are accepted:
//
//	ledger-bot                   a bare name, resolved by the field's kinds
//	ServiceAccount/ledger-bot    Kind/name, or Type/name for resources
//	Acme::Database::"ledger-db"  a Cedar entity UID literal
type Ref struct {
	// Type is the kind or Cedar type written before the name; empty for
	// a bare name.
	Type string
	// Name is the entity id, or "*" for "every entity of Type".
	Name string
	// Literal is true for the Cedar UID form, whose Type is taken as is.
	Literal bool
}

// String renders the reference in the form it was written.
func (r Ref) String() string {
	switch {
	case r.Literal:
		return types.NewEntityUID(types.EntityType(r.Type), types.String(r.Name)).String()
	case r.Type == "":
		return r.Name
	}
	return r.Type + "/" + r.Name
}

// ParseRef parses a reference in one of Ref's forms.
func ParseRef(s string) (Ref, error) {
	if strings.HasSuffix(s, `"`) && strings.Contains(s, `::"`) {
		uid, err := ParseEntityUID(s)
		if err != nil {
			return Ref{}, err
		}
		return Ref{Type: string(uid.Type), Name: string(uid.ID), Literal: true}, nil
	}
	typ, name, found := strings.Cut(s, "/")
	if !found {
		if s == "" {
			return Ref{}, fmt.Errorf("empty reference")
		}
		return Ref{Name: s}, nil
	}
	if !isCedarPath(typ) {
		return Ref{}, fmt.Errorf("%q is not a reference: %q before '/' is not a kind or Cedar type", s, typ)
	}
	if name == "" {
		return Ref{}, fmt.Errorf("%q is not a reference: no name after '/'", s)
	}
	return Ref{Type: typ, Name: name}, nil
}

// ParseEntityUID parses a Cedar entity UID literal such as
// Acme::User::"alice", with Cedar's string escapes.
func ParseEntityUID(s string) (types.EntityUID, error) {
	i := strings.Index(s, `::"`)
	if i < 0 || !strings.HasSuffix(s, `"`) || len(s) < i+4 {
		return types.EntityUID{}, fmt.Errorf("%q is not a Cedar entity UID (want Type::\"id\")", s)
	}
	typ := s[:i]
	if !isCedarPath(typ) {
		return types.EntityUID{}, fmt.Errorf("%q is not a Cedar entity UID: %q is not an entity type", s, typ)
	}
	id, err := unquoteCedar(s[i+2:])
	if err != nil {
		return types.EntityUID{}, fmt.Errorf("%q is not a Cedar entity UID: %v", s, err)
	}
	return types.NewEntityUID(types.EntityType(typ), types.String(id)), nil
}

// unquoteCedar decodes a Cedar string literal: Cedar's escapes are \n \r
// \t \0 \\ \" \' and \u{hex}.
func unquoteCedar(q string) (string, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", fmt.Errorf("string is not quoted")
	}
	body := q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '"' {
			return "", fmt.Errorf("unescaped quote in string")
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(body) {
			return "", fmt.Errorf("string ends with a backslash")
		}
		switch body[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		case '\\', '"', '\'':
			b.WriteByte(body[i])
		case 'u':
			end := strings.IndexByte(body[i:], '}')
			if i+1 >= len(body) || body[i+1] != '{' || end < 0 {
				return "", fmt.Errorf(`bad \u escape (want \u{hex})`)
			}
			n, err := strconv.ParseUint(body[i+2:i+end], 16, 32)
			if err != nil || n > 0x10FFFF {
				return "", fmt.Errorf(`bad \u escape %q`, body[i-1:i+end+1])
			}
			b.WriteRune(rune(n))
			i += end
		default:
			return "", fmt.Errorf(`unknown escape \%c`, body[i])
		}
	}
	return b.String(), nil
}
