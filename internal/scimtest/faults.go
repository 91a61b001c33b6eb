package scimtest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// Page matches the list request of endpoint ("Users" or "Groups") that
// asks for the page starting at startIndex.
func Page(endpoint string, startIndex int) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+endpoint) &&
			r.URL.Query().Get("startIndex") == strconv.Itoa(startIndex)
	}
}

// Fail answers the requests match selects with status and a short body,
// as a proxy or an overloaded provider does, and passes the others on.
func Fail(match func(*http.Request) bool, status int) Wrapper {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if match(r) {
			http.Error(w, "injected failure", status)
			return
		}
		next.ServeHTTP(w, r)
	}
}

// Rewrite passes every request to the library and hands the body of the
// answers to the requests match selects to edit before it is sent, with
// the library's status.
func Rewrite(match func(*http.Request) bool, edit func(body []byte) []byte) Wrapper {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !match(r) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		w.WriteHeader(rec.Code)
		w.Write(edit(rec.Body.Bytes()))
	}
}

// Truncate cuts a body in half: a page whose connection broke off, or a
// provider that wrote half a document.
func Truncate(body []byte) []byte { return body[:len(body)/2] }

// Loop is a provider that ignores startIndex and serves the first page
// whatever was asked, while claiming the page starts where it was asked
// to: paging through it never ends by itself.
func Loop(w http.ResponseWriter, r *http.Request, next http.Handler) {
	asked := r.URL.Query().Get("startIndex")
	q := r.URL.Query()
	q.Set("startIndex", "1")
	r.URL.RawQuery = q.Encode()
	Rewrite(func(*http.Request) bool { return asked != "" }, func(b []byte) []byte {
		return []byte(strings.Replace(string(b), `"startIndex":1`, `"startIndex":`+asked, 1))
	})(w, r, next)
}
