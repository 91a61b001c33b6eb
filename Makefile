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

.PHONY: all build test test-short bench demo proto proto-check lint tools clean

all: build

# build compiles the cedargate binary into bin/.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cedargate

# test runs every test, with the race detector: unit tests, the Cedar
# corpus (7,750 cases through compiler, engine and wire encoding) and the
# end-to-end tests that start real servers on loopback.
test:
	$(GO) test -race -count=1 ./...

# test-short skips the race detector for a quick local loop.
test-short:
	$(GO) test -count=1 ./...

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
