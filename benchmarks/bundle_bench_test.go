package benchmarks

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/cedargate/cedargate/bundle"
)

// BenchmarkDecodeBundle is the bundle format's share of activating a
// bundle: inflating the archive, checking every file against SHA256SUMS
// and parsing the manifest and policies (engine.New, BenchmarkNew, does the
// rest). It reports the archive's compressed and uncompressed sizes, from
// which `serve --max-bundle-bytes` is chosen.
func BenchmarkDecodeBundle(b *testing.B) {
	for _, size := range []string{"10k", "100k"} {
		b.Run("size="+size, func(b *testing.B) {
			bt := load(b, size)
			archive, err := bundle.Encode(bt.bundle)
			if err != nil {
				b.Fatal(err)
			}
			gz, err := gzip.NewReader(bytes.NewReader(archive))
			if err != nil {
				b.Fatal(err)
			}
			tarBytes, err := io.Copy(io.Discard, gz)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bundle.Decode(bytes.NewReader(archive), bundle.DecodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(archive)), "archive-bytes")
			b.ReportMetric(float64(tarBytes), "tar-bytes")
		})
	}
}
