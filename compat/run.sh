#!/usr/bin/env bash
# Starts a throwaway `millrun serve` on a free loopback port and runs the
# windmill-client suite against it. Usage: compat/run.sh path/to/millrun
set -euo pipefail
bin="$(realpath "${1:?usage: compat/run.sh path/to/millrun}")"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../e2e/serve.sh
. "$here/../e2e/serve.sh"
# Scripts' Python packages come from a loopback index built here (no test
# reaches past loopback).
ixdir="$(mktemp -d)"
python3 "$here/pyindex.py" "$ixdir" >"$ixdir/url" 2>"$ixdir/err" &
ix_pid=$!
trap 'kill $ix_pid 2>/dev/null; rm -rf "$ixdir"' EXIT
for _ in $(seq 50); do [ -s "$ixdir/url" ] && break; sleep 0.1; done
PIP_INDEX_URL="$(head -1 "$ixdir/url")"
[ -n "$PIP_INDEX_URL" ] || { cat "$ixdir/err"; echo "compat: the package index did not start"; exit 1; }
export PIP_INDEX_URL
SERVE_TOKEN_LABEL=compat start_serve "$bin" compat 'listening on'
trap 'kill $serve_pid $ix_pid 2>/dev/null; wait $serve_pid 2>/dev/null; rm -rf "$data" "$ixdir"' EXIT
base="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1)"
if [ -z "$base" ] || [ -z "$token" ]; then cat "$log"; echo "compat: no listen address printed or no token created"; exit 1; fi
echo "== windmill-client $(node -p "require('$here/node_modules/windmill-client/package.json').version") against $base"
cd "$here"
BASE_URL="$base" WM_TOKEN="$token" WM_WORKSPACE=local MILLRUN_TEST_DATA="$data" npm test --silent
