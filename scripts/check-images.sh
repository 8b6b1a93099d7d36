#!/usr/bin/env bash
# Runs every image scripts/build-images.sh built as a cluster would, and checks it:
#   scripts/check-images.sh                  # every image (scripts/lib.sh `image_names`)
#   scripts/check-images.sh user-service     # some (the stand-ins image always runs: it
#                                            # is the services' SMS, Okta and partner peer)
# No container engine is needed (podman run does not work in this sandbox): each image's
# root is mounted (`buildah from` + `buildah mount`, or `docker export` with a Docker
# engine), bound read-only with a tmpfs /tmp and proc, and its ENTRYPOINT run in it with
# `chroot --userspec=<the image's USER>`, against the AWS emulator (scripts/emulator.sh,
# fresh tables), an OIDC issuer (tools/oidc-issuer) and the stand-ins image itself. Checks:
#   runs as 65532      the process's real/effective/saved uid and gid (/proc/PID/status)
#   libraries          the image's own loader (ld.so --list, chrooted) finds every library
#   dependency list    the binary carries cargo auditable's .dep-v0 section
#   /healthz /readyz /swagger/  answer 200 (AUTO_CREATE_RESOURCES=true), with a read-only root
#   a real request     each service's smoke_test (services/<name>/local.sh), e.g. sign-up
#                      + login, a customer, an Okta listing through the stand-in
#   stand-ins          the SMS, Okta and partner fakes answer
# Prints PASS/FAIL per check and 'N passed, N failed'; exits 1 if any failed. Needs root
# (mount, chroot). Logs: .run/check-images/.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
. scripts/lib.sh
help_if_asked scripts/check-images.sh "${1:-}"

RUN=.run/check-images
DEADLINE_SECONDS=${DEADLINE_SECONDS:-60}
mapfile -t SERVICES < <(services)
if [ $# -gt 0 ]; then
  only_known "check-images: unknown image" "$(image_names | tr '\n' ' ')" "$@"
  # The stand-ins image always runs first (the services' peer), the services after it.
  read -ra SERVICES <<<"${*/stand-ins/}"
fi
if [ "$(id -u)" != 0 ]; then
  echo "check-images: needs root (mount, chroot)" >&2
  exit 2
fi

DOCKER=
if docker_engine; then DOCKER=1; IMAGE_REPO="${IMAGE_REPO:-localhost/platform}"; else buildah_env; fi

# --- bookkeeping: what was mounted or created is undone on exit --------------------------
rm -rf "$RUN"
mkdir -p "$RUN"
ROOTS=()
CONTAINERS=()
emulator_started=
cleanup() {
  stop_launched
  wait 2>/dev/null
  local root ctr
  for root in "${ROOTS[@]}"; do umount -R "$root" 2>/dev/null || umount -R -l "$root" 2>/dev/null; done
  for ctr in "${CONTAINERS[@]}"; do "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1; done
  if [ -n "$emulator_started" ]; then scripts/emulator.sh stop; fi
}
trap cleanup EXIT

passed=0
failed=0
# holds COMMAND...: 0 if COMMAND succeeds, else 1 (a STATUS for result).
holds() { if "$@"; then echo 0; else echo 1; fi; }
# result NAME STATUS [DETAIL]: one PASS/FAIL line (STATUS 0 = pass).
result() {
  if [ "$2" = 0 ]; then
    passed=$((passed + 1)); printf 'PASS  %-52s %s\n' "$1" "${3:-}"
  else
    failed=$((failed + 1)); printf 'FAIL  %-52s %s\n' "$1" "${3:-}"
  fi
}

# --- image roots ------------------------------------------------------------------------
# image_root NAME: mounts the image's files read-only at $RUN/NAME/root (plus proc, a tmpfs
# /tmp and /dev with null, zero, random, urandom); sets ROOT to that path.
image_root() {
  local ref="$IMAGE_REPO/$1:local" files root="$PWD/$RUN/$1/root" ctr dev
  mkdir -p "$root"
  if [ -n "$DOCKER" ]; then
    files="$PWD/$RUN/$1/files"
    mkdir -p "$files"
    ctr=$(docker create "$ref") || return 1
    docker export "$ctr" | tar -x -C "$files"
    docker rm "$ctr" >/dev/null
  else
    ctr=$("${BUILDAH[@]}" from --pull=never --quiet "$ref") || return 1
    CONTAINERS+=("$ctr")
    files=$("${BUILDAH[@]}" mount "$ctr") || return 1
  fi
  mount --bind "$files" "$root" && mount -o remount,bind,ro "$root" || return 1
  ROOTS+=("$root")
  mount -t proc proc "$root/proc" || return 1
  mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp" || return 1
  if [ -d "$root/dev" ]; then
    mount -t tmpfs -o mode=755,size=64k tmpfs "$root/dev"
    for dev in null zero random urandom; do
      touch "$root/dev/$dev" && mount --bind "/dev/$dev" "$root/dev/$dev"
    done
  fi
  ROOT=$root
}

# image_config NAME FIELD: the image's Entrypoint, Cmd (one word a line), Env (one
# VAR=value a line) or User.
image_config() {
  local json
  if [ -n "$DOCKER" ]; then
    json=$(docker image inspect -f '{{json .Config}}' "$IMAGE_REPO/$1:local")
  else
    json=$("${BUILDAH[@]}" inspect --type image "$IMAGE_REPO/$1:local")
  fi
  python3 -c '
import json, sys
config = json.loads(sys.argv[1])
config = config["OCIv1"]["config"] if "OCIv1" in config else config
value = config.get(sys.argv[2]) or ""
print("\n".join(value) if isinstance(value, list) else value)' "$json" "$2"
}

# start NAME ENV... -- ARGS...: runs the image NAME's entrypoint with ARGS in its root, as
# the image's USER, with the image's environment plus ENV, and nothing else from ours.
# Sets PID.
start() {
  local name=$1 root user entrypoint image_env env=() args=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  args=("$@")
  image_root "$name" || { result "$name: image mounted" 1; return 1; }
  root=$ROOT
  ROOT_OF[$name]=$root
  user=$(image_config "$name" User)
  user=${user:-0}
  case "$user" in *:*) ;; *) user="$user:$user" ;; esac
  mapfile -t entrypoint < <(image_config "$name" Entrypoint)
  mapfile -t image_env < <(image_config "$name" Env)
  ENTRYPOINT_OF[$name]=${entrypoint[0]}
  launch "$name" env -i "${image_env[@]}" "${env[@]}" chroot --userspec="$user" "$root" "${entrypoint[@]}" "${args[@]}"
  PID=$!
  PID_OF[$name]=$PID
}

# wait_status NAME URL WANT [CURL ARGS...]: polls URL until it answers WANT (deadline
# $DEADLINE_SECONDS, or the process exits); records the result.
wait_status() {
  local name=$1 url=$2 want=$3 code=000 deadline=$((SECONDS + DEADLINE_SECONDS))
  shift 3
  while [ $SECONDS -lt $deadline ]; do
    code=$(curl -s -o "$RUN/last-body" -w '%{http_code}' -m 5 "$@" "$url")
    [ "$code" = "$want" ] && break
    kill -0 "${PID_OF[$name]}" 2>/dev/null || { code="$code (process exited)"; break; }
    sleep 0.2
  done
  result "$name: /${url#http://127.0.0.1:*/} answers $want" "$(holds [ "$code" = "$want" ])" "(got $code)"
}

# process_user NAME: the process runs as 65532:65532 (real, effective, saved, filesystem).
process_user() {
  local status uid gid
  status=$(cat "/proc/${PID_OF[$1]}/status" 2>/dev/null)
  uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' <<<"$status")
  gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' <<<"$status")
  [ "$uid" = "65532 65532 65532 65532" ] && [ "$gid" = "65532 65532 65532 65532" ]
  result "$1: process runs as uid/gid 65532" $? "(uid $uid, gid $gid)"
}

# libraries NAME: the image's loader, run in the image's root, resolves every library of
# the entrypoint to a file of the image.
libraries() {
  local root=${ROOT_OF[$1]} binary=${ENTRYPOINT_OF[$1]} loader listing missing
  loader=$(readelf -l "$root$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  if [ -z "$loader" ]; then
    result "$1: libraries found in the image" 0 "(static binary)"
    return
  fi
  listing=$(chroot "$root" "$loader" --list "$binary" 2>&1)
  missing=$(grep -E 'not found|No such file' <<<"$listing" | tr -s ' \t' ' ')
  echo "$listing" >"$RUN/$1/ldd.txt"
  local status=1
  if [ -n "$listing" ] && [ -z "$missing" ]; then status=0; fi
  result "$1: libraries found in the image" "$status" \
    "(${missing:-$(grep -c '=>' <<<"$listing") libraries, $loader})"
}

# dependency_list NAME: cargo auditable embedded the dependency list.
dependency_list() {
  readelf -S "${ROOT_OF[$1]}${ENTRYPOINT_OF[$1]}" | grep -q '\.dep-v0'
  result "$1: binary carries its dependency list (.dep-v0)" $?
}

image_checks() { process_user "$1"; libraries "$1"; dependency_list "$1"; }

# --- peers ------------------------------------------------------------------------------
declare -A ROOT_OF ENTRYPOINT_OF PID_OF
aws_emulator_env
if ! scripts/emulator.sh status >/dev/null 2>&1; then
  scripts/emulator.sh start || exit 1
  emulator_started=1
fi
scripts/oidc-issuer.sh
RUN_ID="images-$(date +%s)-$$-"
issuer_port=$(free_port)
ISSUER="http://127.0.0.1:$issuer_port"
launch oidc-issuer node tools/oidc-issuer/issuer.mjs --port "$issuer_port"
wait_ready oidc-issuer "$ISSUER/.well-known/openid-configuration" || exit 1

# --- the stand-ins image: the external APIs' fakes, the services' peers ------------------
SMS_URL="http://127.0.0.1:$(free_port)" SMS_API_KEY=images-sms-key
OKTA_URL="http://127.0.0.1:$(free_port)" OKTA_TOKEN=images-okta-token
PARTNER_URL="http://127.0.0.1:$(free_port)"
echo "stand-ins:"
if start stand-ins -- \
  sms --bind "${SMS_URL#http://}" --username sandbox --api-key "$SMS_API_KEY" \
  okta --bind "${OKTA_URL#http://}" --org acme --api-token "$OKTA_TOKEN" --users 30 \
  partner --bind "${PARTNER_URL#http://}" --providers 40; then
  wait_status stand-ins "$SMS_URL/__stand-in/messages" 200
  wait_status stand-ins "$OKTA_URL/api/v1/users" 200 -H "authorization: SSWS $OKTA_TOKEN"
  wait_status stand-ins "$PARTNER_URL/auth" 200
  image_checks stand-ins
fi

# --- the services (each one's settings and smoke test: services/<name>/local.sh) --------
COMMON_ENV=(AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" AWS_REGION="$AWS_REGION"
  AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
  TABLE_PREFIX="$RUN_ID" AUTO_CREATE_RESOURCES=true SHUTDOWN_DRAIN_SECONDS=0 HOME=/home/nonroot)
for service in "${SERVICES[@]}"; do
  echo "$service:"
  port=$(free_port)
  base="http://127.0.0.1:$port"
  load_service "$service" images
  service_env
  # shellcheck disable=SC2153  # ENV and ARGS: set by service_env
  start "$service" "${COMMON_ENV[@]}" BIND_ADDR="127.0.0.1:$port" "${ENV[@]}" -- "${ARGS[@]}" || continue
  wait_status "$service" "$base/healthz" 200
  wait_status "$service" "$base/readyz" 200
  wait_status "$service" "$base/swagger/" 200
  image_checks "$service"
  smoke_test "$base"
  result "$service: $SMOKE_TEST" $?
done

echo
echo "image checks: $passed passed, $failed failed (logs: $RUN/)"
[ "$failed" = 0 ]
