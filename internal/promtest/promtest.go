// Package promtest reads the Prometheus /metrics page of a server under
// test with Prometheus's own text-format parser, so that tests assert on
// what a real scrape would see.
package promtest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples are the counter, gauge and untyped samples of one scrape, keyed
// by series as PromQL writes a selector for exactly one series:
// `name` or `name{a="x",b="y"}`, labels sorted by name.
type Samples map[string]float64

// Scrape gets http://addr/metrics and parses it; any failure fails t.
func Scrape(t testing.TB, addr string) Samples {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := Samples{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			default:
				continue // histograms and summaries: not needed yet
			}
			out[series(name, m.GetLabel())] = v
		}
	}
	return out
}

// series writes the key of one sample.
func series(name string, labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return name
	}
	pairs := make([]string, len(labels))
	for i, l := range labels {
		pairs[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}
