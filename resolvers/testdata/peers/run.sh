#!/usr/bin/env bash
# The GraphQL rows of the README's Performance section: GraphQL Mesh, the hand-written gqlgen server
# and this gateway in the same interleaved rounds of the peer rig (../shared/peers, bench.sh),
# one user and user plus orders (User.orders: a link to OrderService/ListOrders, as Mesh's and
# gqlstatic's User.orders).
#
#   resolvers/testdata/peers/run.sh            # ROUNDS=4 DURATION=5 by default; any bench.sh knob passes
#
# PEERS (default ../shared/peers from the repo root) is copied to WORK (default /tmp/peers-gql) and
# built there (npm ci for Mesh on the first run). PORT_BASE (default 28080) moves every port: the
# backend at +0, Mesh +4, gqlstatic +5, the gateway +10 (admin +11), so a REST run of the rig on
# its default ports can go on beside it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
PEERS=${PEERS:-$REPO/../shared/peers}
WORK=${WORK:-/tmp/peers-gql}
B=${PORT_BASE:-28080}
for p in $B $((B + 4)) $((B + 5)) $((B + 10)) $((B + 11)); do
  ! ss -ltn | grep -q ":$p " || { echo "port $p is taken" >&2; exit 1; }
done
[ -d "$WORK" ] || cp -r "$PEERS" "$WORK"
cp "$HERE"/user.graphql "$WORK/queries/project-user.graphql"
cp "$HERE"/user-orders.graphql "$WORK/queries/project-user-orders.graphql"
(cd "$REPO" && go build -o "$WORK/bin/gateway" ./cmd/gateway)
cat >"$WORK/gateway.yaml" <<YAML
listen: 127.0.0.1:$((B + 10))
admin_listen: 127.0.0.1:$((B + 11))
services:
  - name: bench
    endpoints: ["127.0.0.1:$B"]
    descriptor_set: $WORK/gen/bench.binpb
graphql:
  links:   # as Mesh's @resolveTo and gqlstatic's resolver: User.orders = ListOrders(user_id: id).orders
    - {type: bench.v1.User, field: orders, method: bench.v1.OrderService/ListOrders, args: {user_id: id}, result_field: orders}
  overrides:
    - {method: bench.v1.UserService/GetUser, name: user}
YAML
cd "$WORK"
export ROUNDS=${ROUNDS:-4} DURATION=${DURATION:-5} GHZ=${GHZ:-/bin/true} \
  PEERS_SKIP=${PEERS_SKIP:-"gwstatic vanguard nginx"} SCENARIOS=${SCENARIOS:-"graphql-user graphql-user-orders"} \
  BACKEND_ADDR=127.0.0.1:$B MESH_ADDR=127.0.0.1:$((B + 4)) GQLSTATIC_ADDR=127.0.0.1:$((B + 5)) \
  PROJECT_GRAPHQL_URL=http://127.0.0.1:$((B + 10))/graphql PROJECT_READY_ADDR=127.0.0.1:$((B + 10)) \
  PROJECT_GQL_USER_QUERY=queries/project-user.graphql PROJECT_GQL_USER_ORDERS_QUERY=queries/project-user-orders.graphql \
  PROJECT_GQL_VARS='{"id": "42"}' PROJECT_CMD="bin/gateway serve --config gateway.yaml"
exec ./bench.sh
