package ocitest

import (
	"net/http"
	"testing"
)

// TestRegistryAnswersAndStops checks that the registry answers the
// distribution API's base endpoint, refuses connections once stopped, and
// answers again after a restart.
func TestRegistryAnswersAndStops(t *testing.T) {
	r := Start(t, Options{})
	get := func() (int, error) {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v2/ = %d, %v", code, err)
	}
	r.Stop()
	if _, err := get(); err == nil {
		t.Fatal("a stopped registry answered")
	}
	r.Restart(t)
	if code, err := get(); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v2/ after restart = %d, %v", code, err)
	}
	if r.Requests() < 2 {
		t.Fatalf("requests counted: %d", r.Requests())
	}
}

// TestRegistryWithPassword checks that a registry with a user refuses an
// anonymous request.
func TestRegistryWithPassword(t *testing.T) {
	r := Start(t, Options{User: "ci", Password: "s3cret"})
	resp, err := http.Get("http://" + r.Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /v2/ = %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.Host+"/v2/", nil)
	req.SetBasicAuth("ci", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authenticated GET /v2/ = %d, want 200", resp.StatusCode)
	}
}
