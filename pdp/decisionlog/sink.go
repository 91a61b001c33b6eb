package decisionlog

import (
	"io"
	"os"
)

// sink is where the writer puts encoded lines. Every Write holds whole lines.
type sink interface {
	io.Writer
	// follow checks, before a write and periodically, that the sink still
	// writes where it should, and reopens it if not; reopened says it did.
	// An error means the sink cannot be written until a later follow
	// succeeds.
	follow() (reopened bool, err error)
	// close makes what was written durable, as far as the medium allows,
	// and releases the sink.
	close() error
}

// openSink opens the sink opts describe.
func openSink(opts *Options) (sink, error) {
	if opts.Path == "-" {
		out := opts.out
		if out == nil {
			out = os.Stdout
		}
		return streamSink{out}, nil
	}
	return openFileSink(opts)
}

// streamSink writes to standard output. Durability is the reader's business
// (a pipe or a container runtime), and the Log does not own the stream, so
// close does nothing.
type streamSink struct{ io.Writer }

func (streamSink) follow() (bool, error) { return false, nil }
func (streamSink) close() error          { return nil }
