#!/usr/bin/env bash
# Browser test of the whole stack: `relais dev` (its own nats-server, audit,
# worker, edge on free ports, state in a temp dir) + Debian's Chromium driven by
# playwright-core through the website: type English, see French, correct it.
# Usage: scripts/e2e.sh [path/to/relais]   (default: cargo builds the debug binary)
set -euo pipefail
cd "$(dirname "$0")/.."

relais="${1:-}"
if [ -z "$relais" ]; then
    cargo build --locked -q -p relais
    relais="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/relais"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
state="$(mktemp -d)"
nats_port="$(free_port)"
edge_port="$(free_port)"
metrics_port="$(free_port)"
log="$state/dev.log"

RELAIS_NATS__URL="nats://127.0.0.1:$nats_port" \
RELAIS_DEV__DATA_DIR="$state" \
RELAIS_DEV__METRICS_ADDR="127.0.0.1:$metrics_port" \
RELAIS_EDGE__LISTEN="127.0.0.1:$edge_port" \
RELAIS_AUDIT__DATABASE_URL="sqlite://$state/relais.db?mode=rwc" \
    "$relais" dev >"$log" 2>&1 &
dev_pid=$!
cleanup() {
    kill -INT "$dev_pid" 2>/dev/null || true
    wait "$dev_pid" 2>/dev/null || true
    rm -rf "$state"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$edge_port/healthz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$dev_pid" 2>/dev/null; then
        echo "e2e: relais dev exited before the edge answered:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done

if ! (cd frontend && RELAIS_E2E_URL="http://127.0.0.1:$edge_port/" node e2e/translate.spec.mjs); then
    echo "e2e: relais dev log:" >&2
    tail -n 50 "$log" >&2
    exit 1
fi
