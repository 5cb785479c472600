#!/usr/bin/env bash
# One entry point for Paseo.NET: ./build.sh build | test | run [daemon flags] | publish | bench [e2ee|fanout|relay|efficiency|orchestration|cli|providers|workspaces|terminals|web]
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

CONFIG=Release
command="${1:-build}"
[ $# -gt 0 ] && shift

# Debian packages tests need (real programs, not stand-ins): installed when missing, else their tests are skipped with the reason.
# Each argument is a program, or program=package where the package is named otherwise.
ensure_packages() {
  local missing=() p sudo=""
  for p in "$@"; do command -v "${p%%=*}" >/dev/null 2>&1 || missing+=("${p#*=}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing ${missing[*]} (apt-get)" >&2
  if ! { $sudo apt-get update -qq && $sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1; then
    echo "note: could not install ${missing[*]}; the tests that need them will be skipped (failed under CI=true)" >&2
  fi
}

build() {
  # The web client (web/) is built by the paseo project's build (npm ci on first use, then esbuild) and embedded in it.
  dotnet restore Paseo.sln
  dotnet build Paseo.sln --no-restore -c "$CONFIG" -tl:off -nologo -v:minimal
}

case "$command" in
  build)
    build
    ;;
  test)
    build
    results=".test-results"
    rm -rf "$results"
    mkdir -p "$results"
    # The web client's browser tests run Debian's Chromium, Firefox ESR and WebKitGTK (its MiniBrowser, under a virtual display).
    ensure_packages git tmux chromium firefox-esr WebKitWebDriver=webkit2gtk-driver xvfb-run=xvfb
    # The JavaScript libraries Paseo's clients use (tweetnacl), for the interoperability tests.
    npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
    # playwright-core, puppeteer-core and selenium-webdriver drive those browsers (none of them downloads a browser).
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
    # The real Claude Code, Codex, OpenCode and Copilot CLIs (they install without an account): tests drive them against loopback
    # stand-ins of their vendors' APIs. When they cannot be installed here, their tests are reported skipped with the reason
    # (failed under CI=true); npm's own output goes to a file, not into the test output.
    if ! npm ci --prefix tests/realcli --no-audit --no-fund --loglevel=error >"$results/npm-realcli.log" 2>&1; then
      echo "note: tests/realcli (the real claude, codex, opencode and copilot CLIs) could not be installed; their tests will be" \
           "skipped (failed under CI=true). npm said: $(grep -m1 -E 'npm (error|ERR)' "$results/npm-realcli.log" || tail -n1 "$results/npm-realcli.log")" \
           "(all of it in $results/npm-realcli.log)" >&2
    fi
    set +e
    dotnet test Paseo.sln --no-build -c "$CONFIG" -tl:off --logger trx --results-directory "$results" "$@"
    rc=$?
    set -e
    passed=0; failed=0; skipped=0; files=0
    for f in "$results"/*.trx; do
      [ -e "$f" ] || continue
      files=$((files + 1))
      counters=$(grep -o '<Counters [^>]*>' "$f")
      total=$(sed -E 's/.* total="([0-9]+)".*/\1/' <<<"$counters")
      p=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters")
      x=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
      e=$(sed -E 's/.* executed="([0-9]+)".*/\1/' <<<"$counters")
      passed=$((passed + p)); failed=$((failed + x)); skipped=$((skipped + total - e))
    done
    # A crashed test host or a missing result file is a failure even when no test reported one.
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    if [ "$files" -eq 0 ] && [ "$rc" -eq 0 ]; then rc=1; failed=1; fi
    echo "$passed passed, $failed failed, $skipped skipped"
    exit "$rc"
    ;;
  run)
    # Terminals live in the daemon's own tmux server.
    ensure_packages tmux
    dotnet build src/Paseo.Host/Paseo.Host.csproj -c "$CONFIG" -tl:off -nologo -v:minimal
    exec "src/Paseo.Host/bin/$CONFIG/net10.0/paseo" daemon start --foreground "$@"
    ;;
  publish)
    # ReadyToRun: precompiled code, so short CLI commands do not pay for the JIT.
    case "$(uname -m)" in aarch64|arm64) rid=linux-arm64 ;; *) rid=linux-x64 ;; esac
    dotnet publish src/Paseo.Host/Paseo.Host.csproj -c "$CONFIG" -r "$rid" --self-contained false \
      -p:PublishReadyToRun=true -tl:off -nologo -o artifacts/paseo "$@"
    echo "published to artifacts/paseo/paseo"
    ;;
  bench)
    build
    if [ "${1:-}" = "e2ee" ]; then
      shift
      # BenchmarkDotNet: frame codec and handshake beside raw libsodium (extra arguments go to BenchmarkDotNet).
      cd bench/Paseo.Bench
      # Every benchmark unless the arguments name their own --filter.
      case " $* " in *" --filter "*|*" -f "*) exec dotnet run -c "$CONFIG" --no-build -- "$@" ;; esac
      exec dotnet run -c "$CONFIG" --no-build -- --filter '*' "$@"
    fi
    if [ "${1:-}" = "relay" ]; then
      shift
      # Load driver: N phones through a real relay to a real daemon, beside a plain WebSocket echo.
      cd bench/Paseo.Bench
      exec dotnet run -c "$CONFIG" --no-build -- relay "$@"
    fi
    if [ "${1:-}" = "relay-cluster" ]; then
      shift
      # 1 relay node against a 3-node relay cluster: N phones spread over the nodes, round trip, handshake, memory per
      # node, and the cost of the node boundary (a phone on the daemon's node against one on another node).
      cd bench/Paseo.Bench
      exec dotnet run -c "$CONFIG" --no-build -- relay-cluster "$@"
    fi
    if [ "${1:-}" = "workspaces" ]; then
      shift
      # fetch_workspaces under load, checkout status of a large repository, memory per watched repository (real git).
      cd bench/Paseo.Bench
      exec dotnet run -c "$CONFIG" --no-build -- workspaces "$@"
    fi
    if [ "${1:-}" = "terminals" ]; then
      shift
      # Terminal output through the relay (MB/s, daemon CPU per MB), keystroke echo round trip, snapshot size and time.
      ensure_packages tmux
      cd bench/Paseo.Bench
      exec dotnet run -c "$CONFIG" --no-build -- terminals "$@"
    fi
    if [ "${1:-}" = "providers" ]; then
      shift
      # Provider output throughput: each provider's stand-in floods deltas through the real daemon to one client.
      cd bench/Paseo.Bench
      exec dotnet run -c "$CONFIG" --no-build -- providers "$@"
    fi
    if [ "${1:-}" = "web" ]; then
      shift
      # The phone web client in Debian's Chromium: link-to-agents time (cold and warm), app size, a 5 000-row timeline.
      ensure_packages chromium
      npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
      exec bench/web/run.sh "$@"
    fi
    if [ "${1:-}" = "cli" ]; then
      shift
      # Wall time of `paseo ls` and `paseo run -d` (the ReadyToRun build) direct, over a unix socket and through the relay.
      "$0" publish >/dev/null
      exec bench/cli.sh "$@"
    fi
    if [ "${1:-}" = "efficiency" ]; then
      shift
      # Issue #19's rows: daemon CPU with 100 idle clients, CPU per 1 000 deltas (10 and 100 clients), relay CPU per 1 000 pings,
      # memory per idle agent (the live heap through dotnet-gcdump, a NuGet tool installed here).
      [ -x bench/.tools/dotnet-gcdump ] || dotnet tool install --tool-path bench/.tools dotnet-gcdump >/dev/null
      cd bench/Paseo.Bench
      exec dotnet run -c "$CONFIG" --no-build -- efficiency "$@"
    fi
    if [ "${1:-}" = "orchestration" ]; then
      shift
      # Issue #18's measures: 1 000 one-minute schedules (timer lateness, CPU, memory) and 100 chat rooms × 10 waiters (post-to-wake).
      cd bench/Paseo.Bench
      exec dotnet run -c "$CONFIG" --no-build -- orchestration "$@"
    fi
    if [ "${1:-}" = "fanout" ]; then
      shift
      # Load driver against the real daemon: one agent streaming to many clients, and idle-agent memory.
      cd bench/Paseo.Bench
      exec dotnet run -c "$CONFIG" --no-build -- fanout "$@"
    fi
    exec bench/run.sh "$@"
    ;;
  *)
    echo "usage: ./build.sh build | test | run [daemon flags] | publish | bench [e2ee|fanout|relay|cli|providers|workspaces|terminals]" >&2
    exit 64
    ;;
esac
