# Relais task runner. `just` lists the recipes.
set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run the whole system on this machine with the embedded defaults (Ctrl-C stops it).
up: (ensure "up") frontend-build
    cargo run --release --locked -p relais -- dev

# Format check, clippy with warnings denied, then every test (real nats-server).
test: (ensure "test") frontend-test
    python3 scripts/check-compose.py
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo nextest run --workspace --locked --no-fail-fast
    just e2e

# Browser test: the whole stack (`relais dev`) driven through the website by Chromium.
e2e: (ensure "browser") frontend-build
    bash scripts/e2e.sh
# Build the website into frontend/dist when its sources changed.
frontend-build: (ensure "frontend")
    #!/usr/bin/env bash
    set -euo pipefail
    cd frontend
    [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund
    if [ ! -f dist/index.html ] || [ -n "$(find src index.html package-lock.json vite.config.ts -newer dist/index.html -print -quit)" ]; then
        npm run build
    fi

# The website's type check and unit tests.
frontend-test: (ensure "frontend")
    #!/usr/bin/env bash
    set -euo pipefail
    cd frontend
    [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund
    npm run typecheck
    npm test

# Clippy with warnings denied.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Benchmarks (never part of `just test`).
bench:
    cargo bench --workspace

# Regenerate schemas/*.json from the Rust event types.
schemas:
    RELAIS_UPDATE_SCHEMAS=1 cargo nextest run -p relais-events --no-fail-fast

# Install what a fresh Debian machine lacks for a recipe (`up` or `test`).
ensure what:
    bash scripts/ensure-deps.sh {{what}}
