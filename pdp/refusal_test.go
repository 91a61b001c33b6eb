package pdp

import (
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/store"
)

// TestRefusalRetry is when a refused bundle is read again: when the
// pointer or the bundle's file changes; a failed read also on a
// notification or after the retry delay; and, where the source cannot tell
// whether the file changed, on a notification or after the delay.
func TestRefusalRetry(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := store.Pointer{Revision: "r1", Digest: "sha256:01"}
	file := fileID{exists: true, size: 10, mtimeNanos: 1, dev: 1, ino: 7}
	rewritten := fileID{exists: true, size: 10, mtimeNanos: 1, dev: 1, ino: 8}
	refused := &refusal{p: p, file: file, known: true, at: at}
	readFailed := &refusal{p: p, file: file, known: true, readFailed: true, at: at}
	unknown := &refusal{p: p, at: at}
	const delay = time.Minute
	soon, later := at.Add(time.Second), at.Add(delay)
	for _, tc := range []struct {
		name     string
		f        *refusal
		p        store.Pointer
		file     fileID
		known    bool
		notified bool
		now      time.Time
		want     bool
	}{
		{"nothing refused", nil, p, file, true, false, soon, true},
		{"another pointer", refused, store.Pointer{Revision: "r2", Digest: "sha256:02"}, file, true, false, soon, true},
		{"same pointer, other digest", refused, store.Pointer{Revision: "r1", Digest: "sha256:02"}, file, true, false, soon, true},
		{"same file, poll", refused, p, file, true, false, soon, false},
		{"same file, notification", refused, p, file, true, true, soon, false},
		{"same file, long after", refused, p, file, true, false, later.Add(time.Hour), false},
		{"file rewritten", refused, p, rewritten, true, false, soon, true},
		{"file removed", refused, p, fileID{}, true, false, soon, true},
		{"read failed, poll", readFailed, p, file, true, false, soon, false},
		{"read failed, notification", readFailed, p, file, true, true, soon, true},
		{"read failed, after the delay", readFailed, p, file, true, false, later, true},
		{"missing file appears", &refusal{p: p, known: true, readFailed: true, at: at}, p, file, true, false, soon, true},
		{"unknown file, poll", unknown, p, fileID{}, false, false, soon, false},
		{"unknown file, notification", unknown, p, fileID{}, false, true, soon, true},
		{"unknown file, after the delay", unknown, p, fileID{}, false, false, later, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.retry(tc.p, tc.file, tc.known, tc.notified, tc.now, delay); got != tc.want {
				t.Fatalf("retry = %v, want %v", got, tc.want)
			}
		})
	}
}
