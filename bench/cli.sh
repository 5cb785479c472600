#!/usr/bin/env bash
# CLI wall-time benchmark (loopback only): run with ./build.sh bench cli.
#   - `paseo ls` (table, piped) and `paseo run -d` against a running daemon with 20 agents
#   - direct over TCP, over a unix socket, and through a relay with a pairing link (end-to-end encrypted)
# Uses the ReadyToRun build (./build.sh publish), as users run it. Each command starts a fresh process, as a script would.
set -euo pipefail
cd "$(dirname "$0")/.."
PASEO="${PASEO:-artifacts/paseo/paseo}"
RUNS="${RUNS:-20}"
[ -x "$PASEO" ] || { echo "publish first: ./build.sh publish" >&2; exit 1; }

ms() { echo $(( ($2 - $1) / 1000000 )); }
stats() { sort -n | awk '{a[NR]=$1; s+=$1} END {printf "min %d ms, median %d ms, p90 %d ms, max %d ms (n=%d)", a[1], a[int((NR+1)/2)], a[int(NR*0.9)], a[NR], NR}'; }

work=$(mktemp -d)
export PASEO_HOME="$work/home"
relay_port=$(( 20000 + RANDOM % 20000 ))
cleanup() { "$PASEO" daemon stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

"$PASEO" daemon start --listen "unix://$work/d.sock" --embedded-relay "127.0.0.1:$relay_port" >/dev/null
# The unix socket is the daemon's listen address; TCP needs a second daemon-free path, so TCP runs use a second daemon below.
url=$(PASEO_RELAY_ENDPOINT="127.0.0.1:$relay_port" "$PASEO" daemon pair --json | sed -E 's/.*"url":"([^"]+)".*/\1/')

tcp_home="$work/tcp-home"
PASEO_HOME="$tcp_home" "$PASEO" daemon start --port 0 >/dev/null
tcp_listen=$(sed -E 's/.*"listen":"([^"]+)".*/\1/' "$tcp_home/paseo.pid")

declare -A targets=([tcp]="$tcp_listen" [unix]="unix://$work/d.sock" [relay]="$url")
for name in tcp unix relay; do
  for i in $(seq 1 20); do "$PASEO" run -d --provider mock --title "seed-$i" "seed $i" --cwd "$work" --host "${targets[$name]}" -q >/dev/null; done
done

echo "binary: $PASEO (ReadyToRun)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), dotnet $(dotnet --version)"
for name in tcp unix relay; do
  host="${targets[$name]}"
  ls_times=(); run_times=()
  for i in $(seq 1 "$RUNS"); do
    t0=$(date +%s%N); "$PASEO" ls --host "$host" >/dev/null; t1=$(date +%s%N)
    ls_times+=("$(ms "$t0" "$t1")")
    t0=$(date +%s%N); "$PASEO" run -d --provider mock "bench $i" --cwd "$work" --host "$host" -q >/dev/null; t1=$(date +%s%N)
    run_times+=("$(ms "$t0" "$t1")")
  done
  printf '%-6s paseo ls:     %s\n' "$name" "$(printf '%s\n' "${ls_times[@]}" | stats)"
  printf '%-6s paseo run -d: %s\n' "$name" "$(printf '%s\n' "${run_times[@]}" | stats)"
done
PASEO_HOME="$tcp_home" "$PASEO" daemon stop >/dev/null
