# syntax=docker/dockerfile:1.7
#
# One image recipe for every binary of the workspace:
#   docker build --build-arg SERVICE=user-service -t user-service .
#   docker build --build-arg SERVICE=stand-ins    -t stand-ins .
#   scripts/build-images.sh      # every image, with buildx or (no Docker engine) buildah
#
# Compiled once for all images: the builder stage does not depend on SERVICE, so it is one
# cached stage for every image: one `cargo chef cook` of the workspace's dependencies, one
# `cargo auditable build --bins` of every binary of the workspace (a new service is built
# without an edit here); each image's runtime stage only copies its binary out of it.
# Building the second and every further image compiles nothing.
#
# Layer caching: cargo-chef turns the workspace manifests + Cargo.lock into recipe.json;
# `cargo chef cook` builds only the dependencies from it, so that (slow) layer is reused
# until a Cargo.toml/Cargo.lock changes. The crates.io registry and git checkouts live in
# BuildKit cache mounts (cargo locks its registry itself, so the default `shared` sharing
# is safe; buildah 1.28 hangs on a second `sharing=locked` mount).
#
# cargo auditable embeds each binary's dependency list (crate names, versions, sources) in
# a `.dep-v0` section: `cargo audit bin`, syft and trivy read it from the image.
#
# Base images are pinned by digest (the tag stays for readers): a tag that moves cannot
# change what is built. No image registry is reachable from the machines this file was
# written on: the digests are those public builds resolved the two tags to (a BuildKit log
# `FROM docker.io/library/rust:1.95-bookworm@sha256:6258...`, distroless in many public
# Dockerfiles), not looked up from the registries here. Check and refresh them with
# `docker buildx imagetools inspect rust:1.95-bookworm` (or Renovate/Dependabot's docker
# ecosystem). scripts/build-images.sh overrides both ARGs with local stand-ins when no
# Docker engine runs.
ARG RUST_IMAGE=rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
ARG CARGO_CHEF_VERSION=0.1.78
ARG CARGO_AUDITABLE_VERSION=0.7.7

# ---- toolchain + cargo-chef + cargo-auditable ------------------------------------------
#checkov:skip=CKV_DOCKER_7:The base is the RUST_IMAGE/RUNTIME_IMAGE arg, whose default is pinned by tag and digest (checked by the Dockerfile contract); checkov does not resolve args
FROM ${RUST_IMAGE} AS chef
ARG CARGO_CHEF_VERSION
ARG CARGO_AUDITABLE_VERSION
RUN cargo install --locked cargo-chef --version "${CARGO_CHEF_VERSION}" \
 && cargo install --locked cargo-auditable --version "${CARGO_AUDITABLE_VERSION}" \
 && rm -rf /usr/local/cargo/registry /usr/local/cargo/git
WORKDIR /app

# ---- dependency recipe (changes only when manifests / lockfile change) ---------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- build: every binary an image ships, once (no SERVICE here) ------------------------
FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# Dependencies only: this layer is cached across source-only changes. The package
# selection (the whole workspace) is the same as the build's below, so cargo resolves the
# same features and reuses every compiled dependency.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo chef cook --release --locked --recipe-path recipe.json --workspace
COPY . .
# cargo auditable wraps rustc for workspace crates only (RUSTC_WORKSPACE_WRAPPER): the
# dependencies cooked above are reused as they are. Every binary lands in /app/bin (the
# bench's too: it is small, and excluding it would change the feature resolution).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo auditable build --release --locked --workspace --bins \
 && mkdir -p /app/bin \
 && find target/release -maxdepth 1 -type f -perm -u+x -exec install -m 0755 -t /app/bin {} +

# ---- runtime: distroless, glibc + libgcc + CA certificates, no shell, no package manager
# uid/gid 65532 ("nonroot"). Debian 12 matches the bookworm builder's glibc.
FROM ${RUNTIME_IMAGE} AS runtime
ARG SERVICE=user-service
LABEL org.opencontainers.image.title="${SERVICE}" \
      org.opencontainers.image.source="https://github.com/example/platform" \
      org.opencontainers.image.licenses="MIT"
COPY --from=builder --chown=0:0 /app/bin/${SERVICE} /usr/local/bin/service
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
