// Package decisionlog writes the PDP's decision log: one JSON object per
// line for every authorization decision, written by a background goroutine
// so that logging never does I/O on the request path.
//
// Each line has these fields, in this order:
//
//	{"decision_id":"…","time":"2025-01-02T03:04:05.000000006Z",
//	 "principal":"Acme::User::\"alice\"","action":"Acme::Action::\"read\"",
//	 "resource":"Acme::Doc::\"d1\"","decision":"allow",
//	 "policies":["p1"],"errors":[{"policy_id":"p2","message":"…"}],
//	 "bundle":{"revision":"…","digest":"…","environment":"…"},
//	 "latency_us":42,"caller":"spiffe://…"}
//
// (shown wrapped; a real line has no whitespace). "policies" and "errors" are
// always arrays, "caller" is left out when empty, and entity UIDs are the
// Cedar text form produced by types.EntityUID.String. [Entry] deliberately
// has no field for the request context or request entities: they may carry
// secrets and must never reach the log.
//
// [Log.Record] copies the entry into a bounded buffer and returns. When the
// buffer is full it either drops the entry at once ([Drop]) or waits a
// bounded time for room ([Block]); every entry that does not reach the sink
// is counted by [Log.Dropped] and reported by a rate-limited slog warning, so
// loss is never silent. [Log.Close] drains the buffer, flushes and fsyncs.
package decisionlog
