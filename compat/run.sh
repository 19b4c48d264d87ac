#!/usr/bin/env bash
# Starts a throwaway `millrun serve` on a free loopback port and runs the
# windmill-client suite against it. Usage: compat/run.sh path/to/millrun
set -euo pipefail
bin="$(realpath "${1:?usage: compat/run.sh path/to/millrun}")"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../e2e/serve.sh
. "$here/../e2e/serve.sh"
SERVE_TOKEN_LABEL=compat start_serve "$bin" compat 'listening on'
base="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1)"
if [ -z "$base" ] || [ -z "$token" ]; then cat "$log"; echo "compat: no listen address printed or no token created"; exit 1; fi
echo "== windmill-client $(node -p "require('$here/node_modules/windmill-client/package.json').version") against $base"
cd "$here"
BASE_URL="$base" WM_TOKEN="$token" WM_WORKSPACE=local MILLRUN_TEST_DATA="$data" npm test --silent
