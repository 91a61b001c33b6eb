package pdp

import (
	"context"
	"crypto/tls"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// caller returns who is calling, for the decision log: it is worked out
// once per RPC (a batch's requests share it) and only when decisions are
// logged, since nothing else reads it.
func (a *authzService) caller(ctx context.Context) string {
	if a.log == nil {
		return ""
	}
	return callerIdentity(ctx)
}

// callerIdentity returns who is calling, when the connection proves it
// (see TLSCaller). Without mTLS the caller is unknown and "" is returned:
// a claimed identity in metadata is not evidence.
func callerIdentity(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return ""
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return ""
	}
	return TLSCaller(&info.State)
}

// TLSCaller returns the identity a TLS connection proves, for the decision
// log: the SPIFFE id (URI SAN) or else the subject common name of the
// client certificate of an mTLS connection, and "" without one. Front ends
// on other transports (the AuthZEN HTTP API) use it so that every caller
// is named the same way.
func TLSCaller(state *tls.ConnectionState) string {
	if state == nil || len(state.PeerCertificates) == 0 {
		return ""
	}
	cert := state.PeerCertificates[0]
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return cert.Subject.CommonName
}
