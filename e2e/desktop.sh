#!/usr/bin/env bash
# The real desktop binary under Xvfb, as a user meets it: the window opens
# and renders the UI, a webhook sent to its loopback listener while the
# window is open runs, a second launch shows the first window instead of
# starting another millrun, and SIGTERM quits gracefully. The screenshot is
# checked for content and kept in e2e/test-results/desktop.png.
# Usage: e2e/desktop.sh path/to/millrun-desktop
set -euo pipefail
bin="$(realpath "${1:?usage: e2e/desktop.sh path/to/millrun-desktop}")"
here="$(cd "$(dirname "$0")" && pwd)"
xwin="$here/xwin.py"
for tool in xvfb-run import convert curl python3 xclip; do
  command -v "$tool" >/dev/null || { echo "desktop: $tool is missing (make setup-test installs it)" >&2; exit 1; }
done

if [ -z "${MILLRUN_IN_XVFB:-}" ]; then
  mkdir -p "$here/test-results"
  echo "== desktop window under Xvfb"
  MILLRUN_IN_XVFB=1 exec xvfb-run -a -s "-screen 0 1280x900x24" "$0" "$bin"
fi

data="$(mktemp -d)"
log="$data/desktop.log"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT
fail() {
  echo "desktop: FAIL: $*" >&2
  echo "---- millrun log" >&2
  cat "$log" >&2 || true
  exit 1
}
wait_log() { # pattern, seconds
  for _ in $(seq $(($2 * 10))); do
    grep -q "$1" "$log" && return 0
    kill -0 "$pid" 2>/dev/null || fail "millrun exited while waiting for: $1"
    sleep 0.1
  done
  fail "no '$1' in the log within $2 s"
}

token="$("$bin" token create --data "$data" --label desktop-smoke 2>&1 | grep -oE '\b[A-Za-z0-9]{32}\b' | head -1)"
[ -n "$token" ] || fail "token create printed no token"

started=$(date +%s%N)
"$bin" desktop --data "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
"$xwin" wait millrun shown 30 || fail "no window appeared"
shown=$(date +%s%N)
wait_log "window loaded the UI" 30
loaded=$(date +%s%N)
echo "window on screen $(( (shown - started) / 1000000 )) ms after launch; the UI loaded its data $(( (loaded - shown) / 1000000 )) ms later"
base="$(grep -oE 'listen=http://127\.0\.0\.1:[0-9]+' "$log" | head -1 | cut -d= -f2)"
[ -n "$base" ] || fail "no listen address in the log"

api() { # method path [json]
  curl -sS -X "$1" "$base$2" -H "Authorization: Bearer $token" -H "Content-Type: application/json" ${3:+-d "$3"} -w '\n%{http_code}'
}
out="$(api POST /api/w/local/scripts/create '{"path":"u/desktop/hello","language":"python3","content":"def main(name: str = \"world\"):\n    print(\"hi\", name)\n    return {\"greeting\": f\"hello {name}\"}\n"}')"
[ "$(tail -1 <<<"$out")" = 201 ] || fail "create script: $out"
webhook() { # name: runs the script through its sync webhook
  local out
  out="$(api POST /api/w/local/jobs/run_wait_result/p/u/desktop/hello "{\"name\":\"$1\"}")"
  [ "$(tail -1 <<<"$out")" = 200 ] || fail "webhook ($1): $out"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r=={"greeting":"hello "+sys.argv[2]}, r' "$(head -1 <<<"$out")" "$1" ||
    fail "webhook result ($1): $out"
}
webhook xvfb
echo "webhook to the open window's listener ran"

# The Scripts page follows job events: the new script appears with its run.
sleep 2
shot="$here/test-results/desktop.png"
import -window root "$shot"
colors="$(convert "$shot" -format '%k' info:)"
# The share of the screen that is not the page background (#f7f7f5) nor
# Xvfb's black: text, table and buttons of a rendered page.
ink="$(convert "$shot" -fill black -fuzz 2% -opaque '#f7f7f5' -fill black -opaque white -format '%[fx:100*mean]' info:)"
# millrun's accent green (the New script button, the success badge): the
# UI's own stylesheet rendered, not an error page.
accent="$(convert "$shot" -fuzz 4% -fill black +opaque '#2f6f4f' -fill white -opaque '#2f6f4f' -format '%[fx:int(w*h*mean+0.5)]' info:)"
echo "screenshot: $shot ($colors colours, ${ink}% ink, $accent accent pixels)"
[ "$colors" -ge 64 ] || fail "the window looks blank ($colors colours)"
[ "$accent" -ge 1500 ] || fail "the window does not show millrun's UI ($accent accent pixels)"
python3 -c "import sys; sys.exit(0 if 0.5 <= float('$ink') <= 40 else 1)" || fail "the window looks wrong (${ink}% ink)"

# Copy and paste work in the window: menu items bound to Ctrl+C and Ctrl+V
# once swallowed those keys. "New script" (top right) opens a page whose
# path field has the focus.
"$xwin" click 1212 131
sleep 1.5
"$xwin" keys Control_L+a Control_L+c
copied="$(timeout 3 xclip -o -selection clipboard 2>/dev/null || true)"
[[ "$copied" == u/*/ ]] || fail "Ctrl+C in the window copied [$copied], want the prefilled path u/<you>/"
printf 'u/desktop/pasted' | xclip -selection clipboard
"$xwin" keys Control_L+a Control_L+v
sleep 0.3
printf '' | xclip -selection clipboard
"$xwin" keys Control_L+a Control_L+c
pasted="$(timeout 3 xclip -o -selection clipboard 2>/dev/null || true)"
[ "$pasted" = u/desktop/pasted ] || fail "Ctrl+V then Ctrl+C in the window gave [$pasted]"
echo "copy and paste work in the window"

# Closing the window keeps millrun serving; the first close says so.
"$xwin" state millrun | grep -qx shown || fail "the window is not shown"
"$xwin" close millrun
"$xwin" wait "millrun keeps running" shown 10 || fail "no notice on the first close"
import -window root "$here/test-results/desktop-close-notice.png"
"$xwin" close "millrun keeps running"
"$xwin" wait millrun hidden 10 || fail "the window did not hide"
wait_log "window hidden" 5
webhook hidden
echo "closed window: notice shown once, webhooks still run"

# A second launch shows the running window and exits; it opens no database.
second="$(timeout 20 "$bin" desktop --data "$data" --listen 127.0.0.1:0 2>&1)" || fail "second launch failed: $second"
grep -q "already running" <<<"$second" || fail "second launch said: $second"
wait_log "another launch asked to show the window" 5
"$xwin" wait millrun shown 10 || fail "the second launch did not show the window"
echo "second launch showed the first window"

# The notice comes only once.
"$xwin" close millrun
"$xwin" wait millrun hidden 10 || fail "the window did not hide on the second close"
[ "$("$xwin" state "millrun keeps running")" = missing ] || fail "the close notice came twice"

kill -TERM "$pid"
for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "millrun did not quit within 15 s of SIGTERM"
wait "$pid" || true
pid=""
grep -q "millrun desktop stopped" "$log" || fail "no graceful stop in the log"
echo "SIGTERM quit gracefully"

# Start at login: the setting writes the XDG autostart entry (in a private
# HOME), and what it runs starts millrun with no window; webhooks answer;
# launching millrun again shows the window.
home="$data/home"
mkdir -p "$home"
HOME="$home" XDG_CONFIG_HOME="" "$bin" desktop --data "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
"$xwin" wait millrun shown 30 || fail "no window on the second start"
wait_log "window loaded the UI" 30
base="$(grep -oE 'listen=http://127\.0\.0\.1:[0-9]+' "$log" | head -1 | cut -d= -f2)"
settings="$(api GET /api/millrun/settings | head -1)"
on="$(python3 -c 'import json,sys; s=json.loads(sys.argv[1])["settings"]; s["start_at_login"]=True; print(json.dumps(s))' "$settings")"
[ "$(api POST /api/millrun/settings "$on" | tail -1)" = 200 ] || fail "turning start_at_login on was refused"
entry="$home/.config/autostart/millrun.desktop"
[ -f "$entry" ] || fail "no autostart entry at $entry"
grep -q "^Exec=$bin desktop --data $data --hidden --listen 127.0.0.1:0$" "$entry" || fail "the entry runs: $(grep ^Exec= "$entry")"
kill -TERM "$pid"; wait "$pid" || true; pid=""
# What the desktop runs at login:
exec_line="$(grep ^Exec= "$entry" | cut -d= -f2-)"
HOME="$home" XDG_CONFIG_HOME="" $exec_line >"$log" 2>&1 &
pid=$!
wait_log "listen=http" 30
base="$(grep -oE 'listen=http://127\.0\.0\.1:[0-9]+' "$log" | head -1 | cut -d= -f2)"
sleep 2
[ "$("$xwin" state millrun)" != shown ] || fail "start at login showed the window"
webhook "started at login"
second="$(timeout 20 "$bin" desktop --data "$data" --listen 127.0.0.1:0 2>&1)" || fail "launch after start at login failed: $second"
"$xwin" wait millrun shown 10 || fail "launching millrun did not show the window started at login"
echo "start at login: entry written, no window at start, webhooks answer, a launch shows the window"
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "desktop: ok"
