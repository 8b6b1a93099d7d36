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
