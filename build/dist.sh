#!/usr/bin/env bash
# Builds what a user installs, into build/dist/: a .deb for Debian and
# Ubuntu (the desktop app in /usr/bin, the headless engine it starts in
# /usr/lib/millrun, its launcher entry and icons, the runtime libraries as
# dependencies) and a per-user Windows installer (NSIS), both named with
# the version in wails.json, and SHA256SUMS.
# Usage: build/dist.sh VERSION LINUX_DESKTOP_BINARY LINUX_HEADLESS_BINARY WINDOWS_BINARY
set -euo pipefail
version="${1:?usage: build/dist.sh VERSION LINUX_BIN LINUX_ENGINE WINDOWS_EXE}"
linux_bin="$(realpath "$2")"
linux_engine="$(realpath "$3")"
windows_exe="$(realpath "$4")"
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/dist"
rm -rf "$out" && mkdir -p "$out"
for tool in dpkg-deb convert makensis sha256sum; do
  command -v "$tool" >/dev/null || { echo "dist: $tool is missing (make setup-test installs it)" >&2; exit 1; }
done

# Debian's version rules: 0.1.0-dev sorts before 0.1.0 as 0.1.0~dev.
deb_version="${version//-/\~}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
install -Dm755 "$linux_bin" "$stage/usr/bin/millrun"
# The engine runs headless in the background; the desktop binary would map
# GTK and WebKit for nothing there (some 45 MB).
install -Dm755 "$linux_engine" "$stage/usr/lib/millrun/millrun-engine"
# Debug symbols are of no use to a user (41 MB against 29.5 MB stripped).
strip --strip-unneeded "$stage/usr/lib/millrun/millrun-engine"
install -Dm644 "$here/linux/millrun.desktop" "$stage/usr/share/applications/millrun.desktop"
for size in 16 24 32 48 64 128 256; do
  mkdir -p "$stage/usr/share/icons/hicolor/${size}x${size}/apps"
  convert "$here/appicon.png" -resize "${size}x${size}" "$stage/usr/share/icons/hicolor/${size}x${size}/apps/millrun.png"
done
install -Dm644 /dev/stdin "$stage/usr/share/doc/millrun/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: millrun
Comment: millrun $version: scripts on this computer as webhooks.
 Its source, its licence and how to build it: the project's README.

Files: *
Copyright: the millrun authors
License: proprietary
 All rights reserved by the millrun authors until a licence is chosen.
COPYRIGHT
# What lintian flags on purpose: the engine is pure Go (CGO_ENABLED=0) and
# so static, which is what lets it run where GTK is absent; the project has
# no public mail address yet, so Maintainer names it at localhost.
install -Dm644 /dev/stdin "$stage/usr/share/lintian/overrides/millrun" <<OVERRIDES
millrun: statically-linked-binary [usr/lib/millrun/millrun-engine]
millrun: bogus-mail-host Maintainer millrun@localhost
millrun: bogus-mail-host-in-debian-changelog millrun@localhost *
OVERRIDES
# Debian packages carry a changelog (lintian: no-changelog).
mkdir -p "$stage/usr/share/doc/millrun"
cat >"$stage/changelog" <<CHANGELOG
millrun ($deb_version) unstable; urgency=medium

  * Release $version: see the project's README for what it does.

 -- millrun <millrun@localhost>  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$here/.." log -1 --format=%ct 2>/dev/null || date +%s)}")
CHANGELOG
gzip -9n <"$stage/changelog" >"$stage/usr/share/doc/millrun/changelog.gz"
rm "$stage/changelog"
chmod 644 "$stage/usr/share/doc/millrun/changelog.gz"
mkdir -p "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: millrun
Version: $deb_version
Section: devel
Priority: optional
Architecture: amd64
Maintainer: millrun <millrun@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: libc6 (>= 2.34), libgtk-3-0, libwebkit2gtk-4.1-0
Recommends: python3
Suggests: nodejs
Description: turn scripts on this computer into webhooks
 millrun runs Python, TypeScript and Bash scripts as Windmill-compatible
 webhooks, schedules and flows, with an optional ngrok tunnel so Slack,
 Discord or GitHub can reach a laptop behind NAT.
CONTROL
# Running engines look at their program when the package changes: an
# upgrade restarts them into the new one once their running jobs finish,
# a removal stops them (and drops their start-at-login entry).
install -Dm755 "$here/linux/postinst" "$stage/DEBIAN/postinst"
install -Dm755 "$here/linux/postinst" "$stage/DEBIAN/postrm"
deb="$out/millrun_${deb_version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null

exe="$out/millrun-${version}-windows-amd64-setup.exe"
convert "$here/appicon.png" -define icon:auto-resize=256,64,48,32,16 "$stage/millrun.ico"
makensis -V4 -DVERSION="$version" -DBINARY="$windows_exe" -DICON="$stage/millrun.ico" -DOUTFILE="$exe" "$here/windows/installer.nsi" >"$stage/nsis.log" ||
  { cat "$stage/nsis.log" >&2; echo "dist: makensis failed" >&2; exit 1; }
# What the installer holds, from makensis' own account of it.
grep -E '^File: "millrun.exe"|^File: .*millrun.exe|WriteUninstaller' "$stage/nsis.log" | sed 's/^/  /' >"$out/windows-installer-contents.txt" || true
grep -q 'millrun.exe' "$out/windows-installer-contents.txt" || { cat "$stage/nsis.log" >&2; echo "dist: the installer does not hold millrun.exe" >&2; exit 1; }

(cd "$out" && sha256sum "$(basename "$deb")" "$(basename "$exe")" >SHA256SUMS)
echo "$deb"
echo "$exe"
