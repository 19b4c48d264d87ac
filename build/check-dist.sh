#!/usr/bin/env bash
# Checks what build/dist.sh made: the .deb's metadata and files, its
# launcher entry, the Windows installer and the checksums.
# Usage: build/check-dist.sh build/dist
set -euo pipefail
dist="${1:?usage: build/check-dist.sh DIST_DIR}"
fail() { echo "dist: FAIL: $*" >&2; exit 1; }
deb="$(ls "$dist"/millrun_*_amd64.deb 2>/dev/null | head -1)"
exe="$(ls "$dist"/millrun-*-windows-amd64-setup.exe 2>/dev/null | head -1)"
[ -n "$deb" ] || fail "no .deb in $dist"
[ -n "$exe" ] || fail "no Windows installer in $dist"

info="$(dpkg-deb -I "$deb")"
grep -q "^ Package: millrun$" <<<"$info" || fail "the .deb is not package millrun"
grep -q "^ Depends: libc6 (>= 2.34), libgtk-3-0, libwebkit2gtk-4.1-0$" <<<"$info" || fail "Depends should name the runtime libraries: $(grep Depends <<<"$info")"
grep -q -- "-dev" <<<"$(grep Depends <<<"$info")" && fail "Depends names a -dev package"
files="$(dpkg-deb -c "$deb")"
for f in ./usr/bin/millrun ./usr/lib/millrun/millrun-engine ./usr/share/applications/millrun.desktop ./usr/share/icons/hicolor/48x48/apps/millrun.png ./usr/share/icons/hicolor/256x256/apps/millrun.png; do
  grep -q " $f\$" <<<"$files" || fail "the .deb lacks $f"
done
grep -q "root/root.* ./usr/bin/millrun$" <<<"$files" || fail "files in the .deb should be root's"
grep -q -- "-rwxr-xr-x.* ./usr/bin/millrun$" <<<"$files" || fail "/usr/bin/millrun is not executable"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
desktop-file-validate "$tmp/usr/share/applications/millrun.desktop" || fail "the launcher entry does not validate"
for bin in usr/bin/millrun usr/lib/millrun/millrun-engine; do
  readelf -S "$tmp/$bin" | grep -q '\.symtab' && fail "/$bin is not stripped"
done
dpkg-deb -e "$deb" "$tmp/DEBIAN"
for script in postinst postrm; do
  grep -q 'kill -HUP' "$tmp/DEBIAN/$script" || fail "the .deb's $script does not tell running engines"
done
if command -v lintian >/dev/null; then
  # Errors fail; warnings are read, not enforced (no man page, say).
  lint="$(lintian --no-tag-display-limit "$deb" 2>&1 || true)"
  grep '^E: ' <<<"$lint" && fail "lintian found errors in the .deb"
  echo "lintian: $(grep -c '^W: ' <<<"$lint" || true) warnings, no errors"
fi
grep -q "^StartupWMClass=millrun$" "$tmp/usr/share/applications/millrun.desktop" || fail "StartupWMClass does not match the window's class"
# Read whole before matching: grep -q stopping early would break the pipe.
engine_help="$("$tmp/usr/lib/millrun/millrun-engine" engine --help 2>&1 || true)"
grep -q "^Usage: millrun engine" <<<"$engine_help" || fail "/usr/lib/millrun/millrun-engine is not millrun's engine: $engine_help"
[ "$("$tmp/usr/lib/millrun/millrun-engine" version 2>&1)" = "$("$tmp/usr/bin/millrun" version 2>&1)" ] || fail "the engine and the desktop app are different versions"
# Installed, the desktop app starts the headless engine from /usr/lib.
data="$tmp/data"
"$tmp/usr/bin/millrun" desktop --hidden --data "$data" --listen 127.0.0.1:0 >"$tmp/launch.log" 2>&1 || fail "the installed app did not start its engine: $(cat "$tmp/launch.log")"
pid="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$data/instance.json")"
engine_cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
[[ "$engine_cmd" == "$tmp/usr/lib/millrun/millrun-engine engine "* ]] || fail "the installed app runs its engine as: $engine_cmd"
version="$("$tmp/usr/bin/millrun" version 2>&1 || true)"
deb_version="$(sed -n 's/^ Version: //p' <<<"$info")"
[ "${version#millrun v}" = "${deb_version//\~/-}" ] || fail "the binary says '$version', the package '$deb_version'"

grep -q 'millrun.exe' "$dist/windows-installer-contents.txt" || fail "the installer's file list lacks millrun.exe"
[ "$(head -c 2 "$exe")" = MZ ] || fail "the installer is not a Windows program"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match"
echo "dist: ok ($(basename "$deb") $(du -h "$deb" | cut -f1), $(basename "$exe") $(du -h "$exe" | cut -f1))"
