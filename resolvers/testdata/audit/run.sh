#!/usr/bin/env bash
# Builds the gateway, starts `gateway demo` on free loopback ports, waits until it is ready, runs the
# graphql-http audit against its /graphql, and stops it. `make graphql-audit` runs this.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT

(cd "$here" && npm ci --no-audit --no-fund --silent)
(cd "$root" && go build -o "$work/gateway" ./cmd/gateway)

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
data=127.0.0.1:$(free_port)
admin=127.0.0.1:$(free_port)
"$work/gateway" demo --listen "$data" --admin-listen "$admin" >"$work/gateway.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -fsS "http://$admin/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/gateway.log" >&2; exit 1; }
  sleep 0.1
done
node "$here/audit.mjs" "http://$data/graphql" "$@"
