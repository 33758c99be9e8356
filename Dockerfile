# syntax=docker/dockerfile:1.7
#
# The one Relais image: every service is `relais <subcommand>` of this image
# (compose.yml sets the subcommand). Stages:
#   frontend      the website, `npm ci && npm run build` → frontend/dist
#   builder       `cargo build --release --locked -p relais` (CPU)
#   builder-cuda  the same with the model crate's `cuda` feature (GPU trainer only)
#   runtime-cuda  the GPU trainer's image (`docker compose --profile gpu`)
#   runtime       the default target: debian:bookworm-slim, non-root, the binary,
#                 models/default and frontend/dist under /app
#
#   docker build -t relais .                                # what compose builds
#   docker build --target runtime-cuda -t relais-cuda .     # GPU trainer
#
# The CUDA binary is linked against the driver's libcuda and cannot even start
# on a machine without one, so it is a separate image, never the default.

ARG RUST_VERSION=1.95
ARG NODE_VERSION=22
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
# What the build reads: the workspace and nats/dev.conf (embedded by `relais dev`).
COPY Cargo.toml Cargo.lock ./
COPY crates/ crates/
COPY nats/ nats/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,id=relais-target,target=/src/target \
    cargo build --release --locked -p relais \
    && install -D -m 0755 target/release/relais /out/relais

# ---------------------------------------------------------------------------
# GPU build: the CUDA toolkit image with the Rust toolchain copied in from the
# official Rust image. CUDA_COMPUTE_CAP must be given because there is no GPU
# during `docker build` (80: A100 and newer through PTX; 90: H100/H200 only).
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS rust-toolchain
FROM nvidia/cuda:12.8.1-devel-ubuntu24.04 AS builder-cuda
ARG CUDA_COMPUTE_CAP=80
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH \
    CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP} \
    LIBRARY_PATH=/usr/local/cuda/lib64/stubs
# (candle links libcuda dynamically: the toolkit's stub satisfies the linker,
# the driver's libcuda.so.1 is loaded at run time.)
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc g++ libc6-dev pkg-config ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=rust-toolchain /usr/local/rustup /usr/local/rustup
COPY --from=rust-toolchain /usr/local/cargo /usr/local/cargo
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates/ crates/
COPY nats/ nats/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,id=relais-target-cuda,target=/src/target \
    cargo build --release --locked -p relais --features relais-model/cuda \
    && install -D -m 0755 target/release/relais /out/relais

# ---------------------------------------------------------------------------
FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04 AS runtime-cuda
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home relais \
    && install -d -o relais -g relais /app/var /app/.relais /var/lib/relais/trainer
COPY --from=builder-cuda /out/relais /usr/local/bin/relais
WORKDIR /app
COPY --chown=root:root models/default/ models/default/
USER relais
ENV RELAIS_TELEMETRY__LOG_FORMAT=json
ENTRYPOINT ["relais"]
CMD ["trainer"]

# ---------------------------------------------------------------------------
# The default target. curl is there for the container health checks.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home relais \
    && install -d -o relais -g relais /app/var /app/.relais /var/lib/relais/trainer
# Writable by the service user: /app/.relais (worker.model_cache: the
# registry's model versions a worker downloads), /app/var (the embedded
# defaults' SQLite file, when no database URL is set) and
# /var/lib/relais/trainer (the trainer's volume; a new named volume takes this
# directory's owner).
COPY --from=builder /out/relais /usr/local/bin/relais
# Relative defaults (`worker.model_dir = models/default`, `edge.static_dir =
# frontend/dist`) resolve against the working directory. Both are read-only.
WORKDIR /app
COPY --chown=root:root models/default/ models/default/
COPY --from=frontend --chown=root:root /src/frontend/dist/ frontend/dist/
USER relais
ENV RELAIS_TELEMETRY__LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["relais"]
CMD ["edge"]
