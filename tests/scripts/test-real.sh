#!/usr/bin/env bash
# test-real.sh: `make test-real`. Starts real services on loopback (real-services.sh), runs the
# shared, functions and tests modules' tests against them (the e2e tests with the Node.js
# WebSocket client too), and stops the services afterwards, also when a test fails.
# CAAS_REAL_KEEP=1 leaves them running for a look afterwards.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SVC="$ROOT/tests/scripts/real-services.sh"
cd "$ROOT"

stop() {
	if [ "${CAAS_REAL_KEEP:-}" = 1 ]; then
		echo "[test-real] CAAS_REAL_KEEP=1: services left running; stop them with: bash $SVC down" >&2
	else
		bash "$SVC" down
	fi
}
trap stop EXIT

bash "$SVC" up
eval "$(bash "$SVC" env)"
export MONGO_URI REDIS_URL KAFKA_BROKERS
echo "[test-real] MONGO_URI=$MONGO_URI REDIS_URL=$REDIS_URL KAFKA_BROKERS=$KAFKA_BROKERS S3_ENDPOINT=$S3_ENDPOINT" >&2

# The non-Go WebSocket client (tests/node, Node's ws package) runs in the e2e tests when
# CAAS_NODE_CLIENT=1; npm ci installs exactly the versions of its package-lock.json.
echo "[test-real] installing the Node.js WebSocket client (npm ci in tests/node)" >&2
(cd tests/node && npm ci --no-audit --no-fund)
export CAAS_NODE_CLIENT=1

start=$SECONDS
go test -count=1 -timeout 25m ./shared/... ./functions/... ./tests/...
echo "[test-real] tests took $((SECONDS - start))s" >&2
