#!/usr/bin/env bash
# Allocations per operation of the rig's two GraphQL queries: the gateway's executor
# (BenchmarkPeerQueries in resolvers) and the static gqlgen peer, both in process behind the same
# httptest request and recorder, the backend's answers canned in user.bin and orders.bin.
# PEERS_DIR is the rig (default ../shared/peers from the repo root), copied to WORK (default
# /tmp/peers-gql) if that does not exist yet.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
PEERS_DIR=${PEERS_DIR:-$REPO/../shared/peers}
WORK=${WORK:-/tmp/peers-gql}
[ -d "$WORK" ] || cp -r "$PEERS_DIR" "$WORK"
(cd "$REPO" && PEERS_DIR="$PEERS_DIR" go test -run '^$' -bench BenchmarkPeerQueries -benchmem ./resolvers/ | grep Benchmark)
mkdir -p "$WORK/allocs"
cp "$HERE/gqlstatic_bench_test.go.txt" "$WORK/allocs/bench_test.go"
cp "$HERE/user.bin" "$HERE/orders.bin" "$WORK/allocs/"
(cd "$WORK/allocs" && go test -run '^$' -bench BenchmarkStatic -benchmem . | grep Benchmark)
