# shellcheck shell=bash
# Shell helpers the scripts share. Sourced (`. scripts/lib.sh`), never run.

# The AWS SDK settings for the local emulator, unless the caller set them already.
aws_emulator_env() {
  export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:${EMULATOR_PORT:-4566}}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
}

# venv_install DIR REQUIREMENTS: a Python venv in DIR with the pinned REQUIREMENTS,
# reinstalled only when that file changes (a stamp holds its hash).
venv_install() {
  local dir=$1 requirements=$2 stamp
  stamp="$dir/.installed-$(sha256sum "$requirements" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  echo "installing $requirements into $dir" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
}

# launch NAME COMMAND...: runs COMMAND in the background with its output in $RUN/NAME.log,
# and remembers its pid in $RUN/pids for stop_launched.
launch() {
  local name=$1
  shift
  "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >>"$RUN/pids"
}

# stop_launched: stops everything launch started.
stop_launched() {
  if [ -f "$RUN/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$RUN/pids"
    rm -f "$RUN/pids"
  fi
}

# wait_ready NAME URL: waits (30 s at most) until URL answers 2xx.
wait_ready() {
  local name=$1 url=$2
  for _ in $(seq 1 150); do
    if curl -fsS -m 2 "$url" >/dev/null 2>&1; then
      echo "  $name ready" >&2
      return 0
    fi
    sleep 0.2
  done
  echo "  $name did not become ready; see $RUN/$name.log" >&2
  return 1
}

# Image storage of scripts/build-images.sh and scripts/check-images.sh when no Docker engine
# runs: buildah, its store under .tools/ (git-ignored, outside the build context). The overlay
# driver when the kernel mounts overlays here (layers stored as differences); else vfs, which
# copies every layer in full (a cold build of the four images then needs ~30 GB). Sets
# BUILDAH (an array), IMAGE_STORE and IMAGE_REPO.
# shellcheck disable=SC2034  # used by the scripts that source this file
buildah_env() {
  local driver=${STORAGE_DRIVER:-}
  IMAGE_STORE="${CONTAINERS_STORE:-$PWD/.tools/containers}"
  mkdir -p "$IMAGE_STORE"
  if [ -z "$driver" ]; then
    driver=vfs
    if overlay_mounts "$IMAGE_STORE"; then driver=overlay; fi
  fi
  BUILDAH=(buildah --storage-driver "$driver" --root "$IMAGE_STORE/$driver" --runroot "$IMAGE_STORE/run-$driver")
  IMAGE_REPO="${IMAGE_REPO:-localhost/platform}"
}

# overlay_mounts DIR: an overlay mount works on DIR's filesystem.
overlay_mounts() {
  local dir rc=1
  dir=$(mktemp -d "$1/.overlay-test.XXXX")
  mkdir "$dir/lower" "$dir/upper" "$dir/work" "$dir/merged"
  if mount -t overlay overlay -o "lowerdir=$dir/lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged" 2>/dev/null; then
    umount "$dir/merged"
    rc=0
  fi
  rm -rf "$dir"
  return "$rc"
}

# docker_engine: true when a Docker engine with buildx answers (then images are built and
# kept there instead).
docker_engine() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1
}

# The images scripts/build-images.sh builds (one per binary the Dockerfile ships).
image_names() { echo user-service sales-service integration-service stand-ins; }

# only_known WHAT KNOWN NAME...: exits (2) at the first NAME that is not a word of KNOWN,
# saying "WHAT NAME (one of: KNOWN)".
only_known() {
  local what=$1 known=$2 name
  shift 2
  for name in "$@"; do
    case " $known " in
      *" $name "*) ;;
      *) echo "$what $name (one of: $known)" >&2; exit 2 ;;
    esac
  done
}
