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
