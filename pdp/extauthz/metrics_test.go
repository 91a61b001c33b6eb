package extauthz_test

import (
	"testing"

	"github.com/cedargate/cedargate/internal/promtest"
	"github.com/cedargate/cedargate/pdp/extauthz"
)

// TestUnknownEntitiesAreCounted checks that Envoy's Check counts, in
// cedargate_unknown_entities_total, a caller whose SPIFFE id no bundle
// entity has and a host that names no bundle resource, exactly once each,
// and that a known caller reaching a known service counts nothing.
func TestUnknownEntitiesAreCounted(t *testing.T) {
	p := startPDP(t, newStore(t, true), extauthz.Config{Namespace: "Acme"})
	const (
		principal = `cedargate_unknown_entities_total{role="principal"}`
		resource  = `cedargate_unknown_entities_total{role="resource"}`
	)
	steps := []struct {
		name                    string
		req                     request
		want                    outcome
		wantPrincipal, wantRsrc float64
	}{
		{"known caller and service", request{source: settlementWorker},
			allowed(settlementSA, readAction, ledgerService, "entitlement:Group/payments-workloads:ledger-reader#0"), 0, 0},
		{"unknown workload", request{source: strangerWorkload},
			denied(`Acme::Unknown::"`+strangerWorkload+`"`, readAction, ledgerService), 1, 0},
		{"unknown host", request{source: settlementWorker, host: "nosuch:443"},
			denied(settlementSA, readAction, `Acme::Service::"nosuch"`), 1, 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			resp, err := p.check(t, envoyRequest(s.req))
			expect(t, resp, err, s.want)
			got := promtest.Scrape(t, p.srv.MetricsAddr().String())
			if got[principal] != s.wantPrincipal || got[resource] != s.wantRsrc {
				t.Errorf("unknown principals %v, resources %v; want %v, %v", got[principal], got[resource], s.wantPrincipal, s.wantRsrc)
			}
		})
	}
}
