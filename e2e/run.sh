#!/usr/bin/env bash
# Starts a throwaway `millrun serve` (a build with the UI embedded) on a free
# loopback port and drives Debian's Chromium through the UI against it.
# Usage: e2e/run.sh path/to/millrun
set -euo pipefail
bin="$(realpath "${1:?usage: e2e/run.sh path/to/millrun}")"
here="$(cd "$(dirname "$0")" && pwd)"
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "e2e: $chromium not found. Install Debian's chromium (make setup-test does)." >&2
  exit 1
fi
# shellcheck source=serve.sh
. "$here/serve.sh"
# The folder 'millrun token create' without --data writes to: not the
# server's, as when a user forgets --data.
MILLRUN_DATA="$(mktemp -d)"
export MILLRUN_DATA
start_serve "$bin" e2e 'login?token='
trap 'kill $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null; rm -rf "$data" "$MILLRUN_DATA"' EXIT
login="$(grep -o 'http://127.0.0.1:[0-9]*/login?token=[A-Za-z0-9]*' "$log" | head -1)"
[ -n "$login" ] || { cat "$log"; echo "e2e: no login URL printed"; exit 1; }
rm -rf "$here/test-results" && mkdir -p "$here/test-results"
cd "$here"
echo "== UI end to end in $("$chromium" --version 2>/dev/null | head -1)"
LOGIN_URL="$login" DATA_DIR="$data" MILLRUN_BIN="$bin" CHROMIUM="$chromium" SHOTS="$here/test-results" npm test --silent
