#!/usr/bin/env bash
# Starts a throwaway `millrun serve` on a free loopback port and runs the
# windmill-client suite against it. Usage: compat/run.sh path/to/millrun
set -euo pipefail
bin="$(realpath "${1:?usage: compat/run.sh path/to/millrun}")"
here="$(cd "$(dirname "$0")" && pwd)"
data="$(mktemp -d)"
log="$data/serve.log"
"$bin" serve --data "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  grep -q 'token=' "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "compat: millrun serve exited"; exit 1; }
  sleep 0.1
done
base="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1)"
token="$(grep -o 'token=[A-Za-z0-9]*' "$log" | head -1 | cut -d= -f2)"
if [ -z "$base" ] || [ -z "$token" ]; then cat "$log"; echo "compat: no address or login token printed"; exit 1; fi
echo "== windmill-client $(node -p "require('$here/node_modules/windmill-client/package.json').version") against $base"
cd "$here"
BASE_URL="$base" WM_TOKEN="$token" WM_WORKSPACE=local npm test --silent
