# syntax=docker/dockerfile:1.7
#
# One image recipe for every binary of the workspace:
#   docker build --build-arg SERVICE=user-service -t user-service .
#   docker build --build-arg SERVICE=stand-ins    -t stand-ins .
#
# Layer caching: cargo-chef turns the workspace manifests + Cargo.lock into recipe.json;
# `cargo chef cook` builds only the dependencies from it, so that (slow) layer is reused
# until a Cargo.toml/Cargo.lock changes. The crates.io registry and git checkouts live in
# BuildKit cache mounts, so even a dependency bump does not re-download everything.
#
# Base images are pinned by tag. Production builds should pin by digest too
# (`image:tag@sha256:...`, e.g. kept fresh by Renovate/Dependabot); digests cannot be
# looked up from the offline machine where this file is linted.

ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.76

# ---- toolchain + cargo-chef ----------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /app

# ---- dependency recipe (changes only when manifests / lockfile change) ---------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- build ----------------------------------------------------------------------------
FROM chef AS builder
ARG SERVICE=user-service
COPY --from=planner /app/recipe.json recipe.json
# Dependencies only: this layer is cached across source-only changes.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo chef cook --release --locked --package "${SERVICE}" --recipe-path recipe.json
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo build --release --locked --package "${SERVICE}" --bin "${SERVICE}" \
 && install -m 0755 "target/release/${SERVICE}" /app/service

# ---- runtime: distroless, glibc + libgcc + CA certificates, no shell, no package manager
# uid/gid 65532 ("nonroot"). Debian 12 matches the bookworm builder's glibc.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG SERVICE=user-service
LABEL org.opencontainers.image.title="${SERVICE}" \
      org.opencontainers.image.source="https://github.com/example/platform" \
      org.opencontainers.image.licenses="MIT"
COPY --from=builder --chown=0:0 /app/service /usr/local/bin/service
# Services write nothing to disk: run with a read-only root filesystem in Kubernetes.
ENV BIND_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json \
    RUST_LOG=info
USER 65532:65532
EXPOSE 8080
# HEALTHCHECK: deliberately none. Distroless has no shell, curl or wget, so a
# `HEALTHCHECK CMD curl ...` cannot run, and the binaries have no self-probe subcommand.
# Health is checked from outside the container instead: Kubernetes liveness/readiness/
# startup probes hit GET /healthz and GET /readyz (charts/), and docker-compose gates
# dependants on LocalStack's own healthcheck. Docker's HEALTHCHECK is ignored by
# Kubernetes anyway.
#checkov:skip=CKV_DOCKER_2:No shell/curl in distroless; health is probed over HTTP by Kubernetes (/healthz, /readyz), see comment above
ENTRYPOINT ["/usr/local/bin/service"]
