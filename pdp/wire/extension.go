package wire

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/cedar-policy/cedar-go/types"

	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// The extension constructors, as Extension.fn names them.
const (
	fnIP       = "ip"
	fnDecimal  = "decimal"
	fnDatetime = "datetime"
	fnDuration = "duration"
)

// extension builds the Cedar value of x with cedar-go's parser for its
// constructor, so that what a value means is what it means in a policy.
func (d *decoder) extension(x *cedargatev1.Extension) (types.Value, *FieldError) {
	fn, arg := x.GetFn(), x.GetArg()
	if len(arg) > d.lim.MaxStringBytes {
		return nil, tooLong(len(arg), d.lim.MaxStringBytes).under(".arg")
	}
	switch fn {
	case fnIP:
		v, err := types.ParseIPAddr(arg)
		if err != nil {
			return nil, badArg(arg, fn, "want an IPv4 or IPv6 address or CIDR range, e.g. \"10.0.0.1\" or \"10.0.0.0/8\"")
		}
		return v, nil
	case fnDecimal:
		// Cedar's grammar for decimals is -?[0-9]+\.[0-9]+; cedar-go
		// also takes a leading '+' (strconv.ParseInt does), which Rust
		// Cedar refuses. Refuse it too, so a request means the same to
		// every Cedar.
		if strings.HasPrefix(arg, "+") {
			return nil, badArg(arg, fn, decimalWant)
		}
		v, err := types.ParseDecimal(arg)
		if err != nil {
			return nil, badArg(arg, fn, decimalWant)
		}
		return v, nil
	case fnDatetime:
		v, err := types.ParseDatetime(arg)
		if err != nil {
			return nil, badArg(arg, fn, detail(err)+`; want e.g. "2024-10-15", "2024-10-15T11:35:00Z" or "2024-10-15T11:35:00.000+0100"`)
		}
		return v, nil
	case fnDuration:
		v, err := types.ParseDuration(arg)
		if err != nil {
			return nil, badArg(arg, fn, detail(err)+`; want e.g. "1h30m", "-2d" or "500ms"`)
		}
		return v, nil
	case "":
		return nil, required().under(".fn")
	}
	return nil, (&FieldError{Reason: Quote(fn) + " is not a Cedar extension function; want ip, decimal, datetime or duration"}).under(".fn")
}

const decimalWant = `want an optional "-", digits, "." and 1 to 4 digits, e.g. "-12.3456", between -922337203685477.5808 and 922337203685477.5807`

// badArg is the error of an argument its constructor refuses.
func badArg(arg, fn, want string) *FieldError {
	return (&FieldError{Reason: Quote(arg) + " is not a valid " + fn + " (" + want + ")"}).under(".arg")
}

// detail returns what cedar-go says is wrong with a datetime or duration,
// without the "error parsing datetime value: " it starts with. These
// details ("invalid date", "unexpected unit 'h'") never repeat the
// argument, so a long argument cannot bloat the message; the ip and decimal
// parsers' messages do, so those are not used.
func detail(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, ": "); ok {
		return after
	}
	return msg
}

// extensionArg renders an extension value as the fn and arg that decode
// back to an equal value. ok is false for a value with no such text, which
// exists: cedar-go's Datetime holds any int64 of milliseconds but
// ParseDatetime refuses the first day of that range, and the zero IPAddr is
// not an address at all. The round trip is checked for every kind, so a
// cedar-go release that changes a String or Parse cannot make us send text
// that decodes to another value.
func extensionArg(v types.Value) (fn, arg string, ok bool) {
	var back types.Value
	var err error
	switch v := v.(type) {
	case types.IPAddr:
		fn, arg = fnIP, ipString(v)
		back, err = types.ParseIPAddr(arg)
	case types.Decimal:
		fn, arg = fnDecimal, v.String()
		back, err = types.ParseDecimal(arg)
	case types.Datetime:
		fn, arg = fnDatetime, v.String()
		back, err = types.ParseDatetime(arg)
	case types.Duration:
		fn, arg = fnDuration, v.String()
		back, err = types.ParseDuration(arg)
	default:
		return "", "", false
	}
	return fn, arg, err == nil && back.Equal(v)
}

// ipString renders an IPAddr so that ParseIPAddr reads it back. IPAddr's
// String writes an IPv4-mapped IPv6 address in dotted form
// ("::ffff:1.2.3.4"), which ParseIPAddr refuses, as Cedar does; but
// ParseIPAddr accepts the same address in hex ("::ffff:102:304"), so such
// a value can arrive and must be sent back in hex.
func ipString(v types.IPAddr) string {
	p := netip.Prefix(v)
	if !p.Addr().Is4In6() {
		return v.String()
	}
	s := p.Addr().StringExpanded()
	if p.Bits() != 128 {
		s += "/" + strconv.Itoa(p.Bits())
	}
	return s
}
