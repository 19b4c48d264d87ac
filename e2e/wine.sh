#!/usr/bin/env bash
# The Windows builds under Wine (Debian's wine64), as far as Windows can be
# checked without Windows: the headless build prints its version, makes a
# token, serves (/api/version answers), holds its data folder (a second
# serve is told who uses it), saves and lists a script; the desktop build,
# which on Windows is its own background engine, starts that engine with
# --hidden, a second launch finds it, and `quit` (which the installer
# runs before it replaces millrun.exe) stops it. Jobs are not run (no Windows
# Python or bash here) and the window is not opened (no WebView2 in Wine).
# Usage: e2e/wine.sh path/to/millrun-headless.exe path/to/millrun.exe VERSION
set -euo pipefail
headless="$(realpath "${1:?usage: e2e/wine.sh HEADLESS_EXE DESKTOP_EXE VERSION}")"
desktop="$(realpath "$2")"
version="${3:?version}"
wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver
for tool in "$wine" "$wineserver" x86_64-w64-mingw32-gcc curl python3; do
  command -v "$tool" >/dev/null || { echo "wine: $tool is missing (make setup-test installs it)" >&2; exit 1; }
done
echo "== the Windows builds under Wine"
work="$(mktemp -d)"
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n"
cleanup() { "$wineserver" -k 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() {
  echo "wine: FAIL: $*" >&2
  for f in "$work"/*.log "$WINEPREFIX"/drive_c/*/millrun.log; do [ -f "$f" ] && { echo "---- $f" >&2; cat "$f" >&2; }; done
  exit 1
}
# Wine's processes keep whatever output they were given open: every wine
# call below writes to a file, never to a pipe this script waits on.
w() { "$wine" "$@" </dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
answers() { # url: waits up to 30 s for /api/version
  for _ in $(seq 60); do curl -sf "$1/api/version" >/dev/null && return 0; sleep 0.5; done
  return 1
}

# Go's runtime (1.24 on) needs ProcessPrng from bcryptprimitives.dll, which
# Wine 8 lacks; on Windows it is a system library. A few lines over
# advapi32's RtlGenRandom stand in, in this prefix's system32 only.
cat >"$work/prng.c" <<'C'
#include <windows.h>
typedef BOOLEAN (WINAPI *gen_random)(PVOID, ULONG);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  static gen_random gen;
  if (!gen) gen = (gen_random)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
  if (!gen) return FALSE;
  while (len) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!gen(data, n)) return FALSE;
    data += n; len -= n;
  }
  return TRUE;
}
C
printf 'LIBRARY bcryptprimitives\nEXPORTS\n  ProcessPrng\n' >"$work/prng.def"
x86_64-w64-mingw32-gcc -O2 -shared -o "$work/bcryptprimitives.dll" "$work/prng.c" "$work/prng.def"
"$wineserver" -p5 </dev/null >/dev/null 2>&1 &
w wineboot -i >"$work/wineboot.log" 2>&1 || fail "wineboot could not make a prefix"
cp "$work/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
mkdir -p "$work/headless" "$work/desktop"
cp "$headless" "$work/headless/millrun.exe"
cp "$desktop" "$work/desktop/millrun.exe" # alone, as the installer puts it

got="$(w "$work/headless/millrun.exe" version 2>&1 >"$work/version.log"; cat "$work/version.log")"
[ "$got" = "millrun v$version" ] || fail "version printed [$got]"
w "$work/headless/millrun.exe" token create --data 'C:\millrun-data' --label wine >"$work/token.log" 2>&1 || fail "token create"
token="$(grep -oE '\b[A-Za-z0-9]{32}\b' "$work/token.log" | head -1)"
[ -n "$token" ] || fail "token create printed no token"

port="$(free_port)"
base="http://127.0.0.1:$port"
w "$work/headless/millrun.exe" serve --data 'C:\millrun-data' --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
answers "$base" || fail "serve did not answer on $base"
echo "headless: version, token, serve answer"

w "$work/headless/millrun.exe" serve --data 'C:\millrun-data' --listen "127.0.0.1:$(free_port)" >"$work/second.log" 2>&1 && fail "a second serve on the same data folder started"
grep -q "is already using C:\\\\millrun-data" "$work/second.log" || fail "a second serve said: $(cat "$work/second.log")"
echo "headless: the data folder is held; a second serve is told who holds it"

api() { curl -sS -X "$1" "$base$2" -H "Authorization: Bearer $token" -H "Content-Type: application/json" ${3:+-d "$3"} -w '\n%{http_code}'; }
out="$(api POST /api/w/local/scripts/create '{"path":"u/wine/hello","language":"bash","content":"echo hi\n"}')"
[ "$(tail -1 <<<"$out")" = 201 ] || fail "create script: $out"
out="$(api GET /api/w/local/scripts/list)"
grep -q '"path":"u/wine/hello"' <<<"$out" || fail "scripts/list: $out"
echo "headless: a script is saved and listed"

port="$(free_port)"
w "$work/desktop/millrun.exe" desktop --hidden --data 'C:\desktop-data' --listen "127.0.0.1:$port" >"$work/launch.log" 2>&1 || fail "desktop --hidden failed"
answers "http://127.0.0.1:$port" || fail "the desktop's engine did not answer"
info="$WINEPREFIX/drive_c/desktop-data/instance.json"
pid="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$info")"
w "$work/desktop/millrun.exe" desktop --hidden --data 'C:\desktop-data' --listen "127.0.0.1:$(free_port)" >"$work/launch2.log" 2>&1 || fail "a second desktop --hidden failed"
grep -q "127.0.0.1:$port" "$work/launch2.log" || fail "a second launch did not find the running engine: $(cat "$work/launch2.log")"
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$info")" = "$pid" ] || fail "a second launch started another engine"
echo "desktop: starts its engine in the background; a second launch finds it"

# What the installer runs before it replaces millrun.exe: quit stops the
# engine as its own Quit does, and the folder is free after.
w "$work/desktop/millrun.exe" quit --data 'C:\desktop-data' --wait 30s >"$work/quit.log" 2>&1 || fail "quit failed: $(cat "$work/quit.log")"
grep -q "^Stopped millrun desktop" "$work/quit.log" || fail "quit said: $(cat "$work/quit.log")"
curl -sf "http://127.0.0.1:$port/api/version" >/dev/null && fail "the engine still answers after quit"
w "$work/desktop/millrun.exe" quit --data 'C:\desktop-data' >"$work/quit2.log" 2>&1 || fail "quit with nothing running failed"
grep -q "No millrun is using" "$work/quit2.log" || fail "quit with nothing running said: $(cat "$work/quit2.log")"
echo "desktop: quit stops the engine gracefully (the installer's first step)"
echo "wine: ok"
