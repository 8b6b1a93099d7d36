#!/usr/bin/env bash
# Builds the container images of every binary the Dockerfile ships (each service and the
# stand-ins: scripts/lib.sh `image_names`), tagged localhost/platform/<name>:local.
#   scripts/build-images.sh                  # all of them
#   scripts/build-images.sh sales-service    # some of them
#   scripts/build-images.sh --cold           # forget the cached layers first: a cold build
# With a Docker engine: `docker buildx build --load`, the Dockerfile's pinned base images.
# Without one (these machines): buildah (overlay, else vfs, storage in .tools/containers;
# chroot isolation)
# with local stand-ins of the two base images, made once and cached (see make_builder_base,
# make_runtime_base), passed in through the Dockerfile's RUST_IMAGE / RUNTIME_IMAGE args.
# Each image is built, then rebuilt with nothing changed (warm: every layer cached). Prints
# per image: both times, the crates its build compiled, its size and the layers that differ
# from the image the tag named before. Builds run under `nice`. Logs: .run/images/.
# scripts/check-images.sh runs the images built here.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/build-images.sh "${1:-}"

RUN=.run/images
BASES=.tools/base-stand-ins
COLD=
mapfile -t WANTED < <(image_names)
if [ "${1:-}" = "--cold" ]; then COLD=1; shift; fi
if [ $# -gt 0 ]; then
  only_known "build-images: unknown image" "${WANTED[*]}" "$@"
  WANTED=("$@")
fi
mkdir -p "$RUN" "$BASES"

# The Dockerfile's default base references: the tag part names the stand-ins.
dockerfile_arg() { sed -n "s/^ARG $1=\(.*\)$/\1/p" Dockerfile | head -n1; }
RUST_IMAGE_PINNED=$(dockerfile_arg RUST_IMAGE)
RUNTIME_IMAGE_PINNED=$(dockerfile_arg RUNTIME_IMAGE)
RUST_TAG=${RUST_IMAGE_PINNED%%@*}           # rust:1.95-bookworm
RUNTIME_TAG=${RUNTIME_IMAGE_PINNED%%@*}     # gcr.io/distroless/cc-debian12:nonroot
RUST_STAND_IN="localhost/base-stand-in/$RUST_TAG"
RUNTIME_STAND_IN="localhost/base-stand-in/${RUNTIME_TAG##*/}"

now() { date +%s.%N; }
seconds_since() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.0f}s")' "$1" "$(now)"; }

# --- buildah: stand-ins for the base images ---------------------------------------------
# A base is remade when its recipe (the functions below) or the host's Rust toolchain changes.
base_stamp() {
  printf '%s\n' "$(declare -f commit_root make_builder_base make_runtime_base | sha256sum | cut -c1-16)" \
    "$(rustc -V)" "$1"
}
base_current() {
  [ -f "$BASES/$1.stamp" ] && [ "$(cat "$BASES/$1.stamp")" = "$(base_stamp "$2")" ] &&
    "${BUILDAH[@]}" inspect --type image "$2" >/dev/null 2>&1
}

# commit_root DIR REF CONFIG...: an image of the directory tree DIR (one layer), with the
# `buildah config` options CONFIG.
commit_root() {
  local dir=$1 ref=$2 ctr mnt
  shift 2
  ctr=$("${BUILDAH[@]}" from scratch)
  mnt=$("${BUILDAH[@]}" mount "$ctr")
  cp -a "$dir/." "$mnt/"
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  "${BUILDAH[@]}" config "$@" "$ctr"
  "${BUILDAH[@]}" rmi "$ref" >/dev/null 2>&1 || true
  "${BUILDAH[@]}" commit --rm --quiet "$ctr" "$ref" >/dev/null
}

# rust:<version>-bookworm: Debian bookworm (minbase) with a C toolchain, this machine's Rust
# toolchain (the version the tag names) and CA bundle (cargo reaches crates.io as the host
# does), CARGO_HOME=/usr/local/cargo as in the official image.
make_builder_base() {
  local want host root
  want=$(sed -n 's/^rust:\([0-9.]*\)-.*/\1/p' <<<"$RUST_TAG")
  host=$(rustc -V | sed -n 's/^rustc \([0-9]*\.[0-9]*\).*/\1/p')
  if [ "$host" != "$want" ]; then
    echo "build-images: the Dockerfile builds with Rust $want, this machine has $host" >&2
    return 1
  fi
  root=$(mktemp -d "$PWD/$BASES/builder.XXXX")
  echo "build-images: making $RUST_STAND_IN (debootstrap, ~3 min)" >&2
  debootstrap --variant=minbase bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    >"$RUN/base-builder.log" 2>&1
  mount -t proc proc "$root/proc"
  if ! chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    gcc libc6-dev pkg-config ca-certificates >>"$RUN/base-builder.log" 2>&1; then
    umount "$root/proc"
    return 1
  fi
  umount "$root/proc"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$root/usr/local/rustup/toolchain" "$root/usr/local/cargo/bin"
  tar -C "$(rustc --print sysroot)" --exclude=./share/doc -c . | tar -C "$root/usr/local/rustup/toolchain" -x
  commit_root "$root" "$RUST_STAND_IN" \
    --env PATH=/usr/local/cargo/bin:/usr/local/rustup/toolchain/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env CARGO_HOME=/usr/local/cargo --env RUSTUP_HOME=/usr/local/rustup \
    --env RUST_VERSION="$(rustc -V | cut -d' ' -f2)" --cmd /bin/bash
  rm -rf "$root"
}

# gcr.io/distroless/cc-debian12:nonroot: the files of the Debian packages distroless/cc
# is made of (no shell, no package manager), a CA bundle, the nonroot user 65532.
make_runtime_base() {
  local root debs
  root=$(mktemp -d "$PWD/$BASES/runtime.XXXX")
  debs="$root.debs"
  mkdir -p "$debs"
  echo "build-images: making $RUNTIME_STAND_IN (apt-get download)" >&2
  local packages=(libc6 libgcc-s1 libstdc++6 libssl3 tzdata netbase base-files)
  if ! (cd "$debs" && apt-get download "${packages[@]}") >"$RUN/base-runtime.log" 2>&1; then
    apt-get update -qq
    (cd "$debs" && apt-get download "${packages[@]}") >"$RUN/base-runtime.log" 2>&1
  fi
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  rm -rf "$debs" "$root"/usr/share/man "$root"/usr/share/info "$root"/usr/share/lintian
  mkdir -p "$root/etc/ssl/certs" "$root/home/nonroot" "$root/tmp" "$root/proc" "$root/dev"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$root/etc/group"
  chown 65532:65532 "$root/home/nonroot"
  chmod 1777 "$root/tmp"
  chmod 755 "$root"
  commit_root "$root" "$RUNTIME_STAND_IN" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --user 65532 --workingdir /home/nonroot
  rm -rf "$root"
}

ensure_bases() {
  if ! base_current builder "$RUST_STAND_IN"; then
    make_builder_base
    base_stamp "$RUST_STAND_IN" >"$BASES/builder.stamp"
  fi
  if ! base_current runtime "$RUNTIME_STAND_IN"; then
    make_runtime_base
    base_stamp "$RUNTIME_STAND_IN" >"$BASES/runtime.stamp"
  fi
}

# --- the engines ----------------------------------------------------------------------
# layers REF: one line per filesystem layer, "<diff id> <instruction that made it>".
layers() {
  if [ -n "$DOCKER" ]; then
    docker image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' "$1" 2>/dev/null | sed '/^$/d'
  else
    local json
    json=$("${BUILDAH[@]}" inspect --type image "$1" 2>/dev/null) || return 0
    python3 -c '
import json, re, sys
oci = json.loads(sys.argv[1])["OCIv1"]
made = [h.get("created_by", "?") for h in oci.get("history", []) if not h.get("empty_layer")]
ids = oci["rootfs"]["diff_ids"]
made = ["(base)"] * (len(ids) - len(made)) + made
for diff, by in zip(ids, made):
    by = re.sub(r"(file|dir):([0-9a-f]{12})[0-9a-f]*", r"\1:\2", by.replace("/bin/sh -c #(nop) ", ""))
    by = "(base image)" if by.strip() in ("", "/bin/sh") else by
    print(diff, " ".join(by.split())[:90])' "$json"
  fi
}

image_size() {
  if [ -n "$DOCKER" ]; then
    numfmt --to=si --suffix=B --format='%.1f' "$(docker image inspect -f '{{.Size}}' "$1")"
  else
    "${BUILDAH[@]}" images --noheading --format '{{.Size}}' "$1" | head -n1
  fi
}

# build NAME LOG: builds the image NAME, all output in LOG.
build() {
  local tag="$IMAGE_REPO/$1:local"
  if [ -n "$DOCKER" ]; then
    nice -n 10 docker buildx build --load --progress=plain \
      --build-arg SERVICE="$1" -t "$tag" -f Dockerfile . >"$2" 2>&1
  else
    nice -n 10 "${BUILDAH[@]}" bud --isolation chroot --layers --pull=never \
      --build-arg RUST_IMAGE="$RUST_STAND_IN" --build-arg RUNTIME_IMAGE="$RUNTIME_STAND_IN" \
      --build-arg SERVICE="$1" -t "$tag" -f Dockerfile . >"$2" 2>&1
  fi
}

DOCKER=
if docker_engine; then
  DOCKER=1
  IMAGE_REPO="${IMAGE_REPO:-localhost/platform}"
  echo "build-images: docker buildx (Docker engine found), bases pinned in the Dockerfile" >&2
  if [ -n "$COLD" ]; then docker builder prune --all --force >/dev/null; fi
else
  buildah_env
  echo "build-images: buildah (no Docker engine), ${BUILDAH[2]} store in $IMAGE_STORE" >&2
  ensure_bases
  if [ -n "$COLD" ]; then
    # Every cached layer goes (the untagged intermediate images), the bases stay; the crates
    # download cache (a cache mount) stays too: a cold build compiles, it does not download.
    for image in $(image_names); do "${BUILDAH[@]}" rmi "$IMAGE_REPO/$image:local" >/dev/null 2>&1 || true; done
    "${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
  fi
fi

declare -A first warm compiled size changed
for image in "${WANTED[@]}"; do
  tag="$IMAGE_REPO/$image:local"
  layers "$tag" >"$RUN/$image.layers-before" || true
  echo "build-images: building $image (log: $RUN/$image.log)" >&2
  start=$(now)
  if ! build "$image" "$RUN/$image.log"; then
    tail -n 40 "$RUN/$image.log" >&2
    echo "build-images: $image FAILED (log: $RUN/$image.log)" >&2
    exit 1
  fi
  first[$image]=$(seconds_since "$start")
  compiled[$image]=$(grep -c '^ *Compiling ' "$RUN/$image.log" || true)
  layers "$tag" >"$RUN/$image.layers"
  size[$image]=$(image_size "$tag")
  changed[$image]=$(awk -v before="$RUN/$image.layers-before" '
    BEGIN { while ((getline line < before) > 0) { split(line, f, " "); old[f[1]] = 1 } }
    !($1 in old) { n++; what = what (what ? "; " : "") substr($0, index($0, " ") + 1) }
    END { printf "%d of %d changed%s", n, NR, (n ? ": " what : "") }' "$RUN/$image.layers")
done
for image in "${WANTED[@]}"; do
  start=$(now)
  build "$image" "$RUN/$image.warm.log"
  warm[$image]=$(seconds_since "$start")
  if [ -n "$(layers "$IMAGE_REPO/$image:local" | diff - "$RUN/$image.layers")" ]; then
    warm[$image]="${warm[$image]} (NOT cached: layers changed)"
  fi
done

echo
printf '%-20s %8s %10s %8s %9s  %s\n' image build compiled warm size layers
for image in "${WANTED[@]}"; do
  printf '%-20s %8s %10s %8s %9s  %s\n' "$image" "${first[$image]}" "${compiled[$image]} crates" \
    "${warm[$image]}" "${size[$image]}" "${changed[$image]}"
done
if [ -z "$DOCKER" ]; then
  echo
  echo "store: $(du -sh "$IMAGE_STORE" 2>/dev/null | cut -f1) in $IMAGE_STORE; free on its disk: $(df -h --output=avail "$IMAGE_STORE" | tail -n1 | tr -d ' ')"
fi
