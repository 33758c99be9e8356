# Relais task runner. `just` lists the recipes.
set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run the whole system on this machine with the embedded defaults (Ctrl-C stops it).
up: (ensure "up")
    cargo run --release --locked -p relais -- dev

# Format check, clippy with warnings denied, then every test (real nats-server).
test: (ensure "test")
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo nextest run --workspace --locked --no-fail-fast

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
