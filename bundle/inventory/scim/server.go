package scim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// Server reads a SCIM 2.0 service provider over HTTPS.
type Server struct {
	base  *url.URL
	token string
	opts  Options
}

var _ inventory.Source = (*Server)(nil)

// NewServer returns a source reading the service provider at base (the
// SCIM base URL, e.g. https://idp.example.com/scim/v2, under which /Users
// and /Groups are served), sending token as a bearer token. base must be
// an https URL: the token would otherwise cross the network in clear.
func NewServer(base, token string, opts Options) (*Server, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("scim: base URL %q: %w", base, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("scim: base URL %q must be an https:// URL", base)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("scim: base URL %q must not have a query or fragment", base)
	}
	if token == "" {
		return nil, errors.New("scim: no bearer token (read it with TokenFromFile or TokenFromEnv)")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &Server{base: u, token: token, opts: opts.withDefaults()}, nil
}

// Read reads all Users, then all Groups, page by page, and returns them
// as one snapshot, or an error and no snapshot.
func (s *Server) Read(ctx context.Context) (*inventory.Snapshot, error) {
	read := s.opts.Now()
	c := newCollector(s.opts.MaxObjects)
	for _, endpoint := range []string{"Users", "Groups"} {
		if err := s.readAll(ctx, endpoint, c); err != nil {
			return nil, err
		}
	}
	objs, err := c.objects()
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	return inventory.NewSnapshot(s.opts.Name, read, objs), nil
}

// readAll pages through one endpoint until totalResults.
func (s *Server) readAll(ctx context.Context, endpoint string, c *collector) error {
	start, got, total := 1, 0, -1
	for page := 1; ; page++ {
		u := s.pageURL(endpoint, start)
		where := fmt.Sprintf("GET %s (page %d)", u, page)
		lr, err := s.get(ctx, u)
		if err != nil {
			return fmt.Errorf("scim: %s: %w", where, err)
		}
		n := *lr.TotalResults
		switch {
		case total < 0 && c.count()+n > s.opts.MaxObjects:
			return fmt.Errorf("scim: %s: totalResults %d would bring the objects read to %d, more than the limit of %d (Options.MaxObjects)", where, n, c.count()+n, s.opts.MaxObjects)
		case total >= 0 && n != total:
			return fmt.Errorf("scim: %s: totalResults changed from %d to %d while paging; the directory changed or the server pages inconsistently, read again", where, total, n)
		case lr.StartIndex != nil && *lr.StartIndex != start:
			return fmt.Errorf("scim: %s: asked for startIndex %d, got a page starting at %d (the server is not paging)", where, start, *lr.StartIndex)
		case len(lr.Resources) == 0 && got < n:
			return fmt.Errorf("scim: %s: empty page after %d of totalResults %d resources", where, got, n)
		case got+len(lr.Resources) > n:
			return fmt.Errorf("scim: %s: %d resources returned in all, more than totalResults %d", where, got+len(lr.Resources), n)
		}
		total = n
		if err := c.add(lr.Resources, u); err != nil {
			return fmt.Errorf("scim: %s: %w", where, err)
		}
		got += len(lr.Resources)
		start += len(lr.Resources)
		if got >= total {
			return nil
		}
	}
}

func (s *Server) pageURL(endpoint string, start int) string {
	u := *s.base
	u.Path += "/" + endpoint
	u.RawQuery = url.Values{
		"startIndex": {strconv.Itoa(start)},
		"count":      {strconv.Itoa(s.opts.PageSize)},
	}.Encode()
	return u.String()
}

// get fetches and decodes one page within the per-request timeout.
func (s *Server) get(ctx context.Context, u string) (*listResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/scim+json, application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		// The error of Do names the URL, which holds no secret; the token
		// travels in a header only.
		return nil, unwrapURLError(err)
	}
	defer func() {
		// Drain a little of what is left so the connection can be reused
		// for the next page, without reading an unbounded error body.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, errors.New("authentication failed (HTTP 401): the server refused the bearer token; check that it is current")
	case resp.StatusCode == http.StatusForbidden:
		return nil, errors.New("authorization failed (HTTP 403): the token is valid but may not list this resource type; grant it read access to Users and Groups")
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	b, err := readLimited(resp.Body, s.opts.MaxBody)
	if err != nil {
		return nil, fmt.Errorf("response body %w", err)
	}
	return decodeList(b)
}

// unwrapURLError drops the "Get URL:" prefix of a *url.Error, as the
// caller names the request already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
