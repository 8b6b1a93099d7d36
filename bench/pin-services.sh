#!/usr/bin/env bash
# Gives the services the bench starts a CPU of their own, for an overload run in which the
# service, not the load generator beside it, is the bottleneck (docs/performance.md,
# "Overload: the service on a core of its own"). On a 2-core machine:
#   bench/pin-services.sh 300 &                  # for 300 s: every (user|sales|integration)-service
#                                                # of target/release it sees goes to CPU 1
#   taskset -c 0 target/release/bench --overload --duration 5    # the bench and its peers on CPU 0
# A service started under `taskset -c 0` sizes its runtime for one core; this moves all of its
# threads to CPU 1 within ~50 ms of its start, before the bench measures it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked bench/pin-services.sh "${1:-}"
seconds=${1:?usage: bench/pin-services.sh SECONDS [CPU]}
cpu=${2:-1}
end=$(($(date +%s) + seconds))
declare -A pinned
while [ "$(date +%s)" -lt "$end" ]; do
  for pid in $(pgrep -f '/target/release/(user|sales|integration)-service' || true); do
    # Again on every pass: a thread started after the last pass is moved too.
    taskset -a -p -c "$cpu" "$pid" >/dev/null 2>&1 || continue
    if [ -z "${pinned[$pid]:-}" ]; then
      pinned[$pid]=1
      echo "pin-services: $(date +%T) pid $pid on CPU $cpu: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-80)"
    fi
  done
  sleep 0.05
done
