package cedarjson

import (
	"fmt"
	"slices"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
)

// CheckContext reports the first field of ctx, in path order, that does
// not match the context type the schema declares for action
// (`context.source_ip: expected ipaddr, got string "10.1.1.1"`), or nil.
// It says nothing when there is no schema or the action is undeclared.
func (c *Converter) CheckContext(action types.EntityUID, ctx types.Record) *Error {
	t, ok := c.ContextType(action)
	if !ok {
		return nil
	}
	return Check("context", ctx, t)
}

// Check reports the first part of v, in path order, that does not match
// t, with its path from path, or nil. It converts nothing: it explains why
// a value the schema validator refused is refused.
func Check(path string, v types.Value, t resolved.IsType) *Error {
	mismatch := func() *Error {
		return errorf(path, "expected %s, got %s", typeName(t), describe(v))
	}
	switch tt := t.(type) {
	case resolved.StringType:
		if _, ok := v.(types.String); !ok {
			return mismatch()
		}
	case resolved.LongType:
		if _, ok := v.(types.Long); !ok {
			return mismatch()
		}
	case resolved.BoolType:
		if _, ok := v.(types.Boolean); !ok {
			return mismatch()
		}
	case resolved.ExtensionType:
		if kindOf(v) != string(tt) {
			return mismatch()
		}
	case resolved.EntityType:
		if u, ok := v.(types.EntityUID); !ok || u.Type != types.EntityType(tt) {
			return mismatch()
		}
	case resolved.SetType:
		set, ok := v.(types.Set)
		if !ok {
			return mismatch()
		}
		// A set has no order to name an element by; the first that fails,
		// in Cedar's order, is shown by value.
		for e := range set.All() {
			if err := Check(path+"[]", e, tt.Element); err != nil {
				return err
			}
		}
	case resolved.RecordType:
		rec, ok := v.(types.Record)
		if !ok {
			return mismatch()
		}
		var names []string
		for k := range tt {
			names = append(names, string(k))
		}
		for k := range rec.All() {
			if _, declared := tt[k]; !declared {
				names = append(names, string(k))
			}
		}
		slices.Sort(names)
		for _, k := range slices.Compact(names) {
			a, declared := tt[types.String(k)]
			field, present := rec.Get(types.String(k))
			switch {
			case !declared:
				return errorf(join(path, k), "not declared in the schema")
			case !present && !a.Optional:
				return errorf(join(path, k), "required by the schema, missing")
			case present:
				if err := Check(join(path, k), field, a.Type); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// typeName names a schema type as the schema language writes it.
func typeName(t resolved.IsType) string {
	switch tt := t.(type) {
	case resolved.StringType:
		return "string"
	case resolved.LongType:
		return "long"
	case resolved.BoolType:
		return "bool"
	case resolved.ExtensionType:
		return string(tt)
	case resolved.EntityType:
		return "entity " + string(tt)
	case resolved.SetType:
		return "set of " + typeName(tt.Element)
	case resolved.RecordType:
		return "record"
	}
	return fmt.Sprintf("%T", t)
}

// kindOf names the type of a Cedar value in the schema's words.
func kindOf(v types.Value) string {
	switch v.(type) {
	case types.String:
		return "string"
	case types.Long:
		return "long"
	case types.Boolean:
		return "bool"
	case types.IPAddr:
		return "ipaddr"
	case types.Decimal:
		return "decimal"
	case types.Datetime:
		return "datetime"
	case types.Duration:
		return "duration"
	case types.EntityUID:
		return "entity"
	case types.Set:
		return "set"
	case types.Record:
		return "record"
	}
	return fmt.Sprintf("%T", v)
}

// describe names v's type and, for a short scalar, shows it.
func describe(v types.Value) string {
	switch x := v.(type) {
	case types.EntityUID:
		return "entity " + x.String()
	case types.String:
		if len(x) <= 64 {
			return fmt.Sprintf("string %q", string(x))
		}
	case types.Long, types.Boolean:
		return kindOf(v) + " " + x.String()
	}
	return kindOf(v)
}
