#!/usr/bin/env bash
# ./build.sh bench web: a real relay and daemon (processes, loopback), an agent with 5 000 timeline rows made through the
# CLI, then bench/web/web-bench.mjs in Debian's Chromium. Prints the numbers as JSON.
set -euo pipefail
cd "$(dirname "$0")/../.."
paseo="src/Paseo.Host/bin/Release/net10.0/paseo"
work=$(mktemp -d)
trap 'kill $relay $daemon 2>/dev/null || true; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
relay_port=$(port); daemon_port=$(port)
export PASEO_RELAY_ENABLED=true PASEO_RELAY_ENDPOINT="127.0.0.1:$relay_port"
PASEO_HOME="$work/relay" "$paseo" relay start --listen "127.0.0.1:$relay_port" >"$work/relay.log" 2>&1 & relay=$!
PASEO_HOME="$work/daemon" "$paseo" daemon start --foreground --port "$daemon_port" >"$work/daemon.log" 2>&1 & daemon=$!
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$daemon_port/api/health" >/dev/null && break; sleep 0.5; done
export PASEO_HOME="$work/daemon" PASEO_HOST="127.0.0.1:$daemon_port"
mkdir -p "$work/project"
# 2 500 tool calls (each a running and a completed row) in one turn: 5 000 rows and more.
prompt=$(python3 -c 'print(" ".join(f"[read f{i}]" for i in range(2500)))')
big=$("$paseo" run --provider mock --title big --cwd "$work/project" --json "$prompt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["agentId"])')
"$paseo" run --provider mock --title small --cwd "$work/project" "hello" >/dev/null
link=$("$paseo" daemon pair --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["webUrl"])')
node bench/web/web-bench.mjs "$link" "$big" "${1:-20}"
