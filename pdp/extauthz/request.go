package extauthz

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cedargate/cedargate/pdp/wire"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cedar-policy/cedar-go/types"
)

// This file reads the parts of an HTTP request that the mapping uses,
// checking each against its limit before anything else looks at it.

// splitTarget checks the request target and splits it into path and raw
// query. The target is used as Envoy sends it, not decoded: decoding here
// could make the PDP judge a different path than the upstream serves.
// Envoy's normalize_path and merge_slashes settle one canonical form
// before ext_authz runs (deploy/envoy/envoy.yaml turns them on).
func (m *Mapper) splitTarget(target string) (path, query string, err error) {
	switch {
	case target == "":
		return "", "", fieldError(fPath, "required")
	case len(target) > m.lim.MaxPathBytes:
		return "", "", fieldError(fPath, "%d bytes, more than the limit of %d", len(target), m.lim.MaxPathBytes)
	case target != "*" && target[0] != '/':
		return "", "", fieldError(fPath, "%s is not an origin-form request target (want /path?query)", wire.Quote(target))
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f || c == '#' {
			// Clients send anything else percent-encoded, and a
			// fragment is never sent: such a target is not one a
			// policy can be written for.
			return "", "", fieldError(fPath, "%s holds %q at byte %d", wire.Quote(target), c, i)
		}
	}
	path, query, _ = strings.Cut(target, "?")
	return path, query, nil
}

// host checks the request's host (the :authority) and returns the name
// that identifies the resource: lower-cased, without port, trailing dot or
// a configured suffix. An IPv6 literal loses its brackets.
func (m *Mapper) host(raw string) (string, error) {
	switch {
	case raw == "":
		return "", fieldError(fHost, "required")
	case len(raw) > m.lim.MaxHostBytes:
		return "", fieldError(fHost, "%d bytes, more than the limit of %d", len(raw), m.lim.MaxHostBytes)
	}
	h := strings.ToLower(raw)
	bad := func() (string, error) {
		return "", fieldError(fHost, "%s is not a host name or address with an optional port", wire.Quote(raw))
	}
	var port string
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return bad()
		}
		rest := h[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return bad()
			}
			port = rest[1:]
		}
		ip, err := netip.ParseAddr(h[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return bad()
		}
		h = ip.String()
	} else {
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			h, port = h[:i], h[i+1:]
		}
		h = strings.TrimSuffix(h, ".")
		if h == "" || !validHostChars(h) {
			return bad()
		}
		for _, s := range m.suffixes {
			// A suffix ends the host at a label boundary: with suffix
			// svc.cluster.local, evilsvc.cluster.local is not "evil"
			// (NewMapper stored s with its leading dot).
			if len(h) > len(s) && strings.HasSuffix(h, s) {
				h = h[:len(h)-len(s)]
				break
			}
		}
	}
	if len(port) > 5 || strings.Trim(port, "0123456789") != "" {
		return bad()
	}
	return h, nil
}

// validHostChars reports whether s is made of what DNS names and IPv4
// addresses use. Other characters RFC 3986 allows in a host (sub-delims,
// percent-encoding) name no real service, and refusing them keeps odd
// resource ids out of policies and logs.
func validHostChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// sourceIP parses the downstream address Envoy reports. It is required:
// a policy that reads context.source_ip would fail to evaluate without
// it, and Cedar skips a policy that fails, forbids included.
func sourceIP(addr string) (types.IPAddr, error) {
	if addr == "" {
		return types.IPAddr{}, fieldError(fSourceAddr, "required: policies read context.source_ip, and a forbid that cannot read it would be skipped")
	}
	if len(addr) > 64 {
		return types.IPAddr{}, fieldError(fSourceAddr, "%d bytes, more than an IP address has", len(addr))
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return types.IPAddr{}, fieldError(fSourceAddr, "%s is not an IP address", wire.Quote(addr))
	}
	// A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d, which
	// isInRange(ip("10.0.0.0/8")) would not match.
	ip = ip.WithZone("").Unmap()
	return types.IPAddr(netip.PrefixFrom(ip, ip.BitLen())), nil
}

// headerReader reads request headers from either of Envoy's encodings:
// the headers map, or header_map when encode_raw_headers is on.
type headerReader struct {
	http *authv3.AttributeContext_HttpRequest
}

// get returns the value of header name (lower-case), its values joined
// with "," as HTTP merges them, and whether it is present. A value over
// limit bytes or not valid UTF-8 is an error.
func (r headerReader) get(name string, limit int) (string, bool, error) {
	tooLong := func(n int) error {
		return fieldError(headerPath(name), "%d bytes, more than the limit of %d", n, limit)
	}
	v, ok := r.http.GetHeaders()[name]
	if !ok {
		var b []byte
		for _, h := range r.http.GetHeaderMap().GetHeaders() {
			if !strings.EqualFold(h.GetKey(), name) {
				continue
			}
			val := h.GetRawValue()
			if len(val) == 0 {
				val = []byte(h.GetValue())
			}
			n := len(b) + len(val)
			if ok {
				n++
			}
			if n > limit {
				return "", false, tooLong(n)
			}
			if ok {
				b = append(b, ',')
			}
			b, ok = append(b, val...), true
		}
		v = string(b)
	}
	if !ok {
		return "", false, nil
	}
	if len(v) > limit {
		return "", false, tooLong(len(v))
	}
	if !utf8.ValidString(v) {
		return "", false, fieldError(headerPath(name), "not valid UTF-8")
	}
	return v, true, nil
}

// headerPath is the field path of request header name.
func headerPath(name string) string { return fHTTP + ".headers[" + strconv.Quote(name) + "]" }
