# Sourced by the test runners: start_serve BIN NAME PATTERN starts a
# throwaway `millrun serve` on a free loopback port with a fresh data
# directory ($data, its log in $log) and waits until the log shows PATTERN.
# The server and the directory go when the runner exits.
start_serve() {
  local bin="$1" name="$2" pattern="$3"
  data="$(mktemp -d)"
  log="$data/serve.log"
  if [ -n "${SERVE_TOKEN_LABEL:-}" ]; then
    token="$("$bin" token create --data "$data" --label "$SERVE_TOKEN_LABEL" 2>/dev/null | tail -1)"
  fi
  # Scripts' packages: from the test's own loopback index when it set
  # one, else from nowhere (a closed port): tests reach only loopback.
  PIP_INDEX_URL="${PIP_INDEX_URL:-http://127.0.0.1:9/simple}" PIP_RETRIES=0 PIP_CONFIG_FILE=/dev/null \
    npm_config_registry="http://127.0.0.1:9/" npm_config_fetch_retries=0 \
    "$bin" serve --data "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
  serve_pid=$!
  trap 'kill $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null; rm -rf "$data"' EXIT
  for _ in $(seq 100); do
    grep -q "$pattern" "$log" && return 0
    kill -0 $serve_pid 2>/dev/null || { cat "$log"; echo "$name: millrun serve exited"; exit 1; }
    sleep 0.1
  done
  cat "$log"
  echo "$name: millrun serve did not print '$pattern' within 10 s"
  exit 1
}
