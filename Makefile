# The gateway's developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

GO ?= go
BIN := $(CURDIR)/.bin
export GOBIN := $(BIN)

# Pinned tool versions: `make generate` must reproduce gen/ byte for byte on any machine.
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPC_GATEWAY_VERSION := v2.33.0
STATICCHECK_VERSION := v0.8.2

LISTEN ?= 127.0.0.1:8080
ADMIN_LISTEN ?= 127.0.0.1:9090
FUZZTIME ?= 30s

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/buf:
	$(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/staticcheck:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(BIN)/protoc-gen-go:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(BIN)/protoc-gen-go-grpc:
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

$(BIN)/protoc-gen-grpc-gateway:
	$(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)

.PHONY: tools
tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway ## Install the pinned code generators into .bin/.

.PHONY: generate
generate: tools ## Regenerate gen/ from proto/.
	find gen -name '*.pb.go' -o -name '*.pb.gw.go' | xargs rm -f
	$(BIN)/buf generate
	$(BIN)/buf generate --template buf.gen.gateway.yaml

.PHONY: checkgenerate
checkgenerate: generate ## Fail when committed gen/ differs from what `make generate` produces.
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		echo "gen/ is out of date: run 'make generate' and commit the result" >&2; \
		git status --porcelain -- gen >&2; git diff --stat -- gen >&2; exit 1; \
	fi

.PHONY: build
build: ## Build the gateway binary into bin/gateway.
	$(GO) build -o bin/gateway ./cmd/gateway

.PHONY: run
run: build ## Run the gateway on its embedded demo shop (no config needed).
	exec bin/gateway demo --listen $(LISTEN) --admin-listen $(ADMIN_LISTEN)

.PHONY: test
test: ## Run all tests with the race detector.
	$(GO) test -race -count=1 ./...

.PHONY: bench
bench: ## Run the Go benchmarks and the load comparison (direct, gateway, gateway with the policy chain, nginx).
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./...
	$(GO) run ./cmd/gateway bench

.PHONY: bench-peers
bench-peers: ## REST against grpc-gateway's generated code and vanguard, GraphQL against Mesh and static gqlgen (../shared/peers, wrk).
	transcoder/testdata/peers/run.sh
	resolvers/testdata/peers/run.sh

.PHONY: graphql-audit
graphql-audit: ## Run the graphql-http GraphQL-over-HTTP conformance audit against `gateway demo` (needs node and npm).
	resolvers/testdata/audit/run.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s).
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

.PHONY: lint
lint: $(BIN)/buf staticcheck ## gofmt, go vet, staticcheck and buf lint.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/buf lint

.PHONY: staticcheck
staticcheck: $(BIN)/staticcheck ## staticcheck ./... (its default checks; deliberate exceptions carry a //lint:ignore with the reason).
	$(BIN)/staticcheck ./...
