# Tool invocations. Every tool is pinned in its own modfile under tools/
# and built from the Go module proxy by `go tool` on first use (then cached
# in the Go build cache), so nothing has to be installed by hand. The protoc
# plugins are invoked by buf itself, as listed in buf.gen.yaml
# (tools/protoc-gen.mod).
GO          ?= go
BUF         ?= $(GO) tool -modfile=tools/buf.mod buf
STATICCHECK ?= $(GO) tool -modfile=tools/staticcheck.mod staticcheck
PROTOC_GEN  ?= $(GO) tool -modfile=tools/protoc-gen.mod
# grpcurl is used by docs/api.md's examples, which cmd/cedargate's
# TestAPIDocExamples runs against a real PDP.
GRPCURL     ?= $(GO) tool -modfile=tools/grpcurl.mod grpcurl

VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X github.com/cedargate/cedargate/internal/version.Version=$(VERSION)
BIN         := bin/cedargate
BENCH_TOOLS := bin/ghz bin/opa bin/vegeta

.PHONY: all build test test-short fuzz bench bench-scale demo proto proto-check schema lint tools clean

all: build

# build compiles the cedargate binary into bin/.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cedargate

# test runs every test, with the race detector: unit tests, the Cedar
# corpus (7,750 cases through compiler, engine and wire encoding) and the
# end-to-end tests that start real servers on loopback. The per-package
# timeout is raised from go test's 10 minutes: on a loaded 2-core machine
# cmd/cedargate alone can approach it, and the budget that matters is the
# whole run's (under 10 minutes on a quiet 2-core machine).
test:
	$(GO) test -race -count=1 -timeout 20m ./...

# test-short skips the race detector for a quick local loop.
test-short:
	$(GO) test -count=1 ./...

# fuzz runs every native Go fuzz target (func FuzzXxx in any package) for
# FUZZTIME each, one after the other. Their seed corpora (testdata/fuzz/)
# are committed, and `make test` runs the seeds as ordinary tests; a
# failure found here is written to testdata/fuzz/ as a new seed.
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz: $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# bench runs the performance benchmarks of issue 4 and writes
# benchmarks/results/<date>-<host>.md (and .json): the engine benchmarks
# (go test -bench ./benchmarks/), and the service benchmarks, which serve
# generated bundles with bin/cedargate on loopback and drive them with
# ghz beside a bare gRPC health check, with OPA as a peer. It takes about
# 15 minutes on 2 cores; BENCH_FLAGS passes flags to the driver, e.g.
# BENCH_FLAGS='-duration 4s -rounds 1 -sizes 1k,10k' for a quick look.
# docs/performance.md explains the results.
bench: build $(BENCH_TOOLS)
	$(GO) run ./benchmarks/cmd/loadtest $(BENCH_FLAGS)

# bench-scale runs the scale benchmarks of issue 15 and writes
# benchmarks/results/<date>-<host>-scale.md (and .json): repositories of
# 1k, 10k, 100k and 1M identities side by side (build time and peak RSS,
# snapshot heap, activation, serving and reload RSS, Decide p50), and 1M
# in 1k's shape, whose Decide ratio to 1k is reported beside 1M's. The
# sizes `cedargate build` cannot build in an ordinary machine's memory
# (1M) are served from the bundle the workload generator writes, which a
# test holds to the compiler's. It takes about 10 minutes on 2 cores and
# 5 GiB of memory at its peak; not part of `make test`. SCALE_FLAGS
# passes flags, e.g. SCALE_FLAGS='-sizes 1k,10k,100k' for a quick look.
bench-scale: build
	$(GO) run ./benchmarks/cmd/scale $(SCALE_FLAGS)

# The load generators and the peer, built from their pinned modfiles
# (the same binaries `go tool -modfile=tools/ghz.mod ghz` runs).
bin/ghz: tools/ghz.mod tools/ghz.sum
	$(GO) build -modfile=tools/ghz.mod -o $@ github.com/bojand/ghz/cmd/ghz
bin/opa: tools/opa.mod tools/opa.sum
	$(GO) build -modfile=tools/opa.mod -o $@ github.com/open-policy-agent/opa
bin/vegeta: tools/vegeta.mod tools/vegeta.sum
	$(GO) build -modfile=tools/vegeta.mod -o $@ github.com/tsenart/vegeta/v12

# demo builds examples/acme, starts a PDP on loopback, shows decisions and
# their decision-log lines, and stops.
demo: build
	$(BIN) demo

clean:
	rm -rf bin

# proto regenerates the Go code in proto/ from the .proto files. Old
# *.pb.go files are removed first so that output of a deleted .proto file
# does not linger.
proto:
	find proto -name '*.pb.go' -type f -delete
	$(BUF) generate

# proto-check fails when the committed generated code is not what `make
# proto` produces from the committed .proto files (CI runs it).
proto-check: proto
	@if ! git diff --quiet -- proto/ || [ -n "$$(git ls-files --others --exclude-standard -- proto/)" ]; then \
		echo >&2 "proto-check: the generated code in proto/ is stale: it differs from what 'make proto' generates."; \
		echo >&2 "Run 'make proto' and commit the result. Changed or new files:"; \
		git status --short -- proto/ >&2; \
		exit 1; \
	fi
	@echo "proto-check: generated code in proto/ is up to date"

# schema regenerates docs/identity.schema.json, the JSON Schema of identity
# files, from bundle/repo's types; a test in bundle/repo/idschema fails
# while the committed file is stale.
schema:
	$(GO) generate ./bundle/repo/idschema

# lint runs every static check; each must pass.
lint:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then \
		echo >&2 "gofmt: these files need 'gofmt -w':"; echo >&2 "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(BUF) lint
	$(BUF) format --diff --exit-code

# tools builds the pinned tools into the Go build cache (the first build
# takes minutes; later runs start at once) and prints their versions.
tools:
	$(BUF) --version
	$(PROTOC_GEN) protoc-gen-go --version
	$(PROTOC_GEN) protoc-gen-go-grpc --version
	$(STATICCHECK) -version
	$(GRPCURL) -version
