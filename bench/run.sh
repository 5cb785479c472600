#!/usr/bin/env bash
# Daemon start-up benchmarks (a load driver on loopback only): run with ./build.sh bench.
#   - cold start: wall time of `paseo daemon start` (spawns the detached daemon, returns once /api/health answers)
#   - `paseo daemon status` wall time against a running daemon
#   - idle memory (VmRSS) of the daemon right after start and after 10 s idle
# Each start uses a fresh $PASEO_HOME, so config.json, server-id and the log are created as on a first run.
set -euo pipefail
cd "$(dirname "$0")/.."
PASEO="${PASEO:-src/Paseo.Host/bin/Release/net10.0/paseo}"
RUNS="${RUNS:-10}"
IDLE_SECONDS="${IDLE_SECONDS:-10}"
[ -x "$PASEO" ] || { echo "build first: ./build.sh build" >&2; exit 1; }

ms() { echo $(( ($2 - $1) / 1000000 )); }
stats() { sort -n | awk '{a[NR]=$1; s+=$1} END {printf "min %d ms, median %d ms, mean %.0f ms, max %d ms (n=%d)\n", a[1], a[int((NR+1)/2)], s/NR, a[NR], NR}'; }

starts=(); statuses=(); rss_start=(); rss_idle=(); stops=()
for i in $(seq 1 "$RUNS"); do
  home=$(mktemp -d)/home
  export PASEO_HOME="$home"
  t0=$(date +%s%N); "$PASEO" daemon start --port 0 >/dev/null; t1=$(date +%s%N)
  starts+=("$(ms "$t0" "$t1")")
  pid=$(sed -E 's/.*"pid":([0-9]+).*/\1/' "$home/paseo.pid")
  rss_start+=("$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")")
  for j in 1 2 3; do
    t0=$(date +%s%N); "$PASEO" daemon status >/dev/null; t1=$(date +%s%N)
    statuses+=("$(ms "$t0" "$t1")")
  done
  if [ "$i" -le 3 ] && [ "$IDLE_SECONDS" -gt 0 ]; then
    sleep "$IDLE_SECONDS"   # a benchmark of idle memory, not a test: the daemon must sit idle
    rss_idle+=("$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")")
  fi
  t0=$(date +%s%N); "$PASEO" daemon stop >/dev/null; t1=$(date +%s%N)
  stops+=("$(ms "$t0" "$t1")")
  rm -rf "$(dirname "$home")"
done

echo "binary: $PASEO"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), dotnet $(dotnet --version)"
echo "cold start (paseo daemon start → healthy): $(printf '%s\n' "${starts[@]}" | stats)"
echo "paseo daemon status:                        $(printf '%s\n' "${statuses[@]}" | stats)"
echo "paseo daemon stop:                          $(printf '%s\n' "${stops[@]}" | stats)"
echo "daemon RSS right after start (MiB):         $(printf '%s\n' "${rss_start[@]}" | sort -n | tr '\n' ' ')"
echo "daemon RSS after ${IDLE_SECONDS} s idle (MiB):           $(printf '%s\n' "${rss_idle[@]}" | sort -n | tr '\n' ' ')"
