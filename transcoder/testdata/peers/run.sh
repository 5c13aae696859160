#!/usr/bin/env bash
# run.sh - the gateway's REST front against grpc-gateway's generated handlers (gwstatic) and vanguard,
# in the same interleaved rounds, on the shared peer rig (../shared/peers: see its README).
#
# It copies the rig to a writable folder, builds the peers and the gateway, and runs the rig's bench.sh
# with its PROJECT HOOK: the gateway serves the rig's bench.v1 backend from its descriptor set
# (gen/bench.binpb), one static service, no policies.
#
# Env: PEERS (the rig, default ../shared/peers next to the repo), WORK (the copy, default /tmp/peers),
# and bench.sh's own knobs (ROUNDS, DURATION, CONC, SCENARIOS, PEERS_SKIP, BACKEND_ADDR...).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
PEERS=${PEERS:-$repo/../shared/peers}
WORK=${WORK:-/tmp/peers}
LISTEN=${LISTEN:-127.0.0.1:18090}
ADMIN=${ADMIN:-127.0.0.1:19090}
BACKEND_ADDR=${BACKEND_ADDR:-127.0.0.1:18080}

if [ ! -x "$WORK/bench.sh" ]; then
  cp -r "$PEERS" "$WORK"
  chmod -R u+w "$WORK"
fi
(cd "$WORK" && make build)
(cd "$repo" && go build -o "$WORK/bin/protogate" ./cmd/gateway)
cat >"$WORK/protogate.yaml" <<YAML
# bench.v1 behind the gateway: one cluster, one service from the rig's descriptor set, no policies.
clusters:
  - name: bench
    endpoints: [$BACKEND_ADDR]
routes:
  - match: {service: bench.v1.UserService}
    cluster: bench
  - match: {service: bench.v1.OrderService}
    cluster: bench
services:
  - name: bench
    cluster: bench
    descriptor_set: gen/bench.binpb
YAML

cd "$WORK"
export BACKEND_ADDR
export SCENARIOS=${SCENARIOS:-"rest-get-user rest-create-user"}
export PEERS_SKIP=${PEERS_SKIP:-"mesh nginx gqlstatic"}
# bench.sh looks for ghz even when no gRPC scenario runs.
case " $SCENARIOS " in
  *" grpc-get-user "*) ;;
  *) export GHZ=${GHZ:-$(command -v ghz || echo /bin/true)} ;;
esac
export PROJECT_REST_URL="http://$LISTEN" PROJECT_READY_ADDR="$LISTEN"
export PROJECT_CMD="bin/protogate serve --config protogate.yaml --listen $LISTEN --admin-listen $ADMIN"
exec ./bench.sh
