package access

import "time"

// Diff is a placeholder with the signature the lead's engine provides;
// this file goes when main's Diff is merged.
func Diff(from, to *Analyzer, at time.Time) (gained, lost []Entry, err error) {
	return nil, nil, errUnbuilt
}
