# shellcheck shell=bash
# Shell helpers the scripts share. Sourced (`. scripts/lib.sh`), never run.

# script_header SCRIPT: SCRIPT's header comment (the comment lines after the shebang: what
# it does, its usage, the settings it reads), on stdout.
script_header() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"
}

# help_if_asked SCRIPT ARG: when ARG is -h or --help, prints SCRIPT's header and exits 0.
# Every script calls it right after sourcing this file: `help_if_asked scripts/x.sh "${1:-}"`.
help_if_asked() {
  case "$2" in
    -h | --help)
      script_header "$1"
      exit 0
      ;;
  esac
}

# long_step WHAT COLD COMMAND...: runs a step that may take minutes, saying so. When the
# step has not run here before, COLD (e.g. "~6 min on 2 cores") says how long it takes.
# On a terminal the command's own progress shows (cargo's bar: pass `$(progress_flag)`);
# otherwise (CI, a log) a line when it starts, one a minute while it runs, and one with
# its elapsed time when it ends.
long_step() {
  local what=$1 cold=$2 started=$SECONDS status=0 ticker
  shift 2
  echo "$what${cold:+ (first time here: $cold)}..." >&2
  if [ -t 2 ]; then
    "$@" || status=$?
  else
    (while sleep 60; do echo "  $what: still running, $(( SECONDS - started ))s" >&2; done) &
    ticker=$!
    "$@" || status=$?
    kill "$ticker" 2>/dev/null || true
    wait "$ticker" 2>/dev/null || true
  fi
  [ "$status" = 0 ] || { echo "$what: failed after $(( SECONDS - started ))s" >&2; return "$status"; }
  echo "$what: done in $(( SECONDS - started ))s" >&2
}

# progress_flag: nothing on a terminal (cargo and pip draw their progress), else --quiet
# (long_step prints the progress lines instead of thousands of lines of build output).
progress_flag() {
  if [ -t 2 ]; then echo ""; else echo "--quiet"; fi
}

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
  rm -rf "$dir"
  python3 -m venv "$dir"
  # shellcheck disable=SC2046  # progress_flag is one word or none
  long_step "installing $requirements into $dir" "~30 s" \
    "$dir/bin/pip" install $(progress_flag) --disable-pip-version-check -r "$requirements"
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

# The platform's services: every package under services/ (its directory, package and binary
# share one name), one a line. Every script that runs, builds, checks or deploys "each
# service" reads this list, so a new service is found without an edit; what a service
# needs on this machine comes from its own services/<name>/local.sh (see load_service).
services() {
  local manifest
  for manifest in services/*/Cargo.toml; do
    sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n1
  done
}

# The images scripts/build-images.sh builds (one per binary the Dockerfile ships), one a
# line: the services, and the stand-ins of the external APIs that scripts/check-images.sh
# runs them against.
image_names() {
  services
  echo stand-ins
}

# load_service NAME MODE: reads services/NAME/local.sh, how the scripts run NAME on this
# machine, for MODE: dev (scripts/dev.sh), fuzz (scripts/fuzz.sh) or images
# (scripts/check-images.sh). The file sets:
#   DEV_PORT        NAME's port in the dev stack (8080-8089)
#   DEV_NOTE        how to call it, for the dev stack's banner
#   SMOKE_TEST      what smoke_test proves, for check-images' report
# and defines:
#   service_env     fills ENV (VAR=value words) and ARGS (the binary's arguments)
#   smoke_test URL  one real request through NAME's storage and peers; fails if it fails
#   fuzz_service URL  gets credentials, then calls `fuzz TOKEN [SCHEMATHESIS ARGS...]`
# from what the calling script provides: MODE, RUN_ID (the prefix of this run's tables and
# buckets), ISSUER (the OIDC issuer), SMS_URL + SMS_API_KEY, OKTA_URL + OKTA_TOKEN (org
# acme), PARTNER_URL, and the helpers below (access_token, json_field).
load_service() {
  unset -f service_env smoke_test fuzz_service
  unset DEV_PORT DEV_NOTE SMOKE_TEST
  # shellcheck disable=SC2034  # read by the file
  MODE=$2
  # shellcheck source=/dev/null  # one file per service
  . "services/$1/local.sh"
}

# free_port: a free loopback port, picked by the kernel.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json_field FIELD: reads a JSON object on stdin and prints one of its string fields.
json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# access_token RESOURCE SCOPES: a client-credentials token from the local issuer ($ISSUER,
# tools/oidc-issuer) for the audience RESOURCE.
access_token() {
  curl -fsS -u platform-dev:platform-dev-secret "$ISSUER/token" \
    -d grant_type=client_credentials -d "resource=$1" -d "scope=$2" | json_field access_token
}

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
