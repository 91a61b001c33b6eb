// Package decisionlog writes the PDP's decision log: one JSON object per
// line for every authorization decision. In the default asynchronous mode
// a background goroutine writes, so that logging never does I/O on the
// request path; in sync mode the request waits for the write that carries
// its entry, which it may make itself (see below).
//
// Each line has these fields, in this order:
//
//	{"decision_id":"…","time":"2025-01-02T03:04:05.000000006Z",
//	 "principal":"Acme::User::\"alice\"","action":"Acme::Action::\"read\"",
//	 "resource":"Acme::Doc::\"d1\"","decision":"allow",
//	 "policies":["p1"],"errors":[{"policy_id":"p2","message":"…"}],
//	 "bundle":{"revision":"…","digest":"…","environment":"…"},
//	 "latency_us":42,"caller":"spiffe://…","frontend":"authzen"}
//
// (shown wrapped; a real line has no whitespace). "policies" and "errors" are
// always arrays, "caller" and "frontend" are left out when empty, and entity UIDs are the
// Cedar text form produced by types.EntityUID.String. [Entry] deliberately
// has no field for the request context or request entities: they may carry
// secrets and must never reach the log.
//
// In the default asynchronous mode [Log.Record] copies the entry into a
// bounded buffer and returns. When the buffer is full it either drops the
// entry at once ([Drop]) or waits a bounded time for room ([Block]). In sync
// mode (Options.Sync) Record returns only once the write carrying the entry
// has returned, and says whether it succeeded; concurrent Records share one
// write (group commit, commit.go).
//
// Every entry that does not reach the file is counted by [Log.Dropped] and
// reported by a rate-limited slog warning, and every failed write or reopen
// by [Log.Stats], so loss is never silent. [Log.Losing] says whether entries
// are being lost right now, for a PDP that must not serve while they are.
// The writer follows the file's path: when an operator or a log shipper
// moves or deletes the file, the next write (or a periodic check, within
// CheckInterval) opens a new one there. [Log.Close] drains the buffer,
// flushes and fsyncs.
//
// The log is read back by [Find], which looks for one decision in the file
// and its rotated backups ([Backups]), streaming and with bounded lines,
// and [ParseEntry], the inverse of the encoder; `cedargate explain`
// (package explain) starts there.
package decisionlog
