package pdp

import (
	"context"

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

// callerIdentity returns who is calling, when the connection proves it:
// the SPIFFE id (URI SAN) or else the subject common name of the client
// certificate of an mTLS connection. Without mTLS the caller is unknown
// and "" is returned: a claimed identity in metadata is not evidence.
func callerIdentity(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return ""
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return ""
	}
	cert := info.State.PeerCertificates[0]
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return cert.Subject.CommonName
}
