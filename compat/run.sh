#!/usr/bin/env bash
# Starts a throwaway `millrun serve` on a free loopback port and runs the
# windmill-client suite against it. Usage: compat/run.sh path/to/millrun
set -euo pipefail
bin="$(realpath "${1:?usage: compat/run.sh path/to/millrun}")"
here="$(cd "$(dirname "$0")" && pwd)"
data="$(mktemp -d)"
log="$data/serve.log"
token="$("$bin" token create --data "$data" --label compat 2>/dev/null | tail -1)"
"$bin" serve --data "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  grep -q 'listening on' "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "compat: millrun serve exited"; exit 1; }
  sleep 0.1
done
base="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1)"
if [ -z "$base" ] || [ -z "$token" ]; then cat "$log"; echo "compat: no listen address printed or no token created"; exit 1; fi
echo "== windmill-client $(node -p "require('$here/node_modules/windmill-client/package.json').version") against $base"
cd "$here"
BASE_URL="$base" WM_TOKEN="$token" WM_WORKSPACE=local npm test --silent
