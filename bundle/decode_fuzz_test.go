package bundle

import (
	"bytes"
	"errors"
	"runtime/metrics"
	"testing"
)

// fuzzLimit is the size limit FuzzDecode decodes with: small, so that the
// fuzzer reaches it with short inputs, and below the 96 KiB of the seed
// whose files are each under it but together over it.
const fuzzLimit = 64 << 10

// FuzzDecode feeds arbitrary bytes to Decode with a size limit. It must
// never panic, never allocate more than a small multiple of the limit
// (the files themselves, the JSON parser's copy of the policies, the
// decompressor's window), refuse an oversized bundle with ErrTooLarge, and
// decide the same way twice.
//
// The seed corpus in testdata/fuzz/FuzzDecode holds a valid small bundle,
// a truncated one, a gzip bomb (4 MiB of zeros in 4 KB, declared honestly),
// two files each under the limit but together over it, a tar header that
// declares a terabyte, path traversal names (../../etc/passwd,
// /etc/passwd, bundles/../manifest.json, ./manifest.json) and a symbolic
// link. They were written once by a throwaway program with archive/tar and
// compress/gzip; the test does not regenerate them, since compressed bytes
// may differ between Go versions. deep-policy (30,000 nested brackets)
// and long-chain (60,000 unary "!"), written by Encode, are valid bundles
// whose policies no PDP may parse (see checkCedar).
func FuzzDecode(f *testing.F) {
	valid, err := Encode(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	const budget = 8*fuzzLimit + 1<<20
	f.Fuzz(func(t *testing.T, data []byte) {
		before := heapAllocs()
		b, err := Decode(bytes.NewReader(data), DecodeOptions{MaxSize: fuzzLimit})
		if alloc := heapAllocs() - before; alloc > budget {
			t.Fatalf("Decode allocated %d bytes under a %d-byte limit (budget %d)", alloc, fuzzLimit, budget)
		}
		again, err2 := Decode(bytes.NewReader(data), DecodeOptions{MaxSize: fuzzLimit})
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("decoded twice: %v, then %v", err, err2)
		}
		if err != nil {
			if len(err.Error()) > 16<<10 {
				t.Fatalf("error of %d bytes: errors must not quote what a bundle holds", len(err.Error()))
			}
			return
		}
		if b.Digest != again.Digest {
			t.Fatalf("digests %s and %s for the same bytes", b.Digest, again.Digest)
		}
		if n := len(b.Entities) + len(b.Schema); n > fuzzLimit {
			t.Fatalf("accepted %d bytes of entities and schema under a %d-byte limit", n, fuzzLimit)
		}
		if _, err := Decode(bytes.NewReader(data), DecodeOptions{MaxSize: fuzzLimit, Digest: b.Digest}); err != nil {
			t.Fatalf("refused with its own digest: %v", err)
		}
		if _, err := Decode(bytes.NewReader(data), DecodeOptions{MaxSize: 1}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("a 1-byte limit: %v, want ErrTooLarge", err)
		}
	})
}

// heapAllocs returns the bytes allocated on the heap since the program
// started. It reads runtime/metrics, which, unlike runtime.ReadMemStats,
// does not stop the world: under the fuzzer, stopping the world for every
// input stalls the worker.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
