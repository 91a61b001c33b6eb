package pdp

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Limits of the HTTP front ends' server on what reaches a handler. A
// handler bounds the body itself (the AuthZEN API takes the gRPC API's
// message limit).
const (
	// frontMaxHeaderBytes bounds a request's headers: a PEP sends a
	// handful (content type, authorization, request id), far from the
	// 1 MiB net/http allows by default.
	frontMaxHeaderBytes = 64 << 10
	// frontReadTimeout bounds how long a client may take to send a
	// request, headers and body: a slow client must not hold a
	// connection and its buffers.
	frontReadTimeout = 30 * time.Second
	// frontIdleTimeout closes keep-alive connections nobody uses.
	frontIdleTimeout = 2 * time.Minute
)

// newFrontServer returns the server of the HTTP front ends' listener:
// HTTP/1.1 and HTTP/2 (over TLS, or cleartext h2c without it, as API
// gateways and sidecars speak it).
func newFrontServer(h http.Handler, cfg *tls.Config, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       frontReadTimeout,
		IdleTimeout:       frontIdleTimeout,
		MaxHeaderBytes:    frontMaxHeaderBytes,
		// Handshake failures and broken connections are the client's
		// doing and can come at any rate: debug level.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	if cfg != nil {
		srv.TLSConfig = cfg.Clone()
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	return srv
}

// serveFront serves srv on l, over TLS when srv has a TLS configuration.
func serveFront(srv *http.Server, l net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(l, "", "")
	}
	return srv.Serve(l)
}

// stopFront stops the HTTP front ends' server gracefully, up to the
// shutdown timeout, and then closes what is left; the channel closes when
// it has stopped (at once without one).
func (s *Server) stopFront() <-chan struct{} {
	done := make(chan struct{})
	if s.front == nil {
		if s.hlis != nil {
			s.hlis.Close()
		}
		close(done)
		return done
	}
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		if err := s.front.Shutdown(ctx); err != nil {
			s.log.Warn("shutdown timeout: closing HTTP connections with requests in flight")
			s.front.Close()
		}
		// Shutdown closes only the listeners Serve was given: a server
		// stopped before it served still holds its own.
		s.hlis.Close()
	}()
	return done
}
