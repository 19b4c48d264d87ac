#!/usr/bin/env bash
# Installs what millrun needs to build, run and test on Debian/Ubuntu, and
# only what is missing. Debian packages need root (or sudo); without either
# it names the packages and stops.
#   build/setup.sh          what `make run` needs (the desktop libraries only
#                           where there is a display to open a window on)
#   build/setup.sh test     plus what `make test` needs
set -euo pipefail
mode="${1:-run}"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# Go: the machine's Go (1.21 or newer) fetches the toolchain go.mod pins.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  say "Go is not installed. Install Go 1.21 or newer (https://go.dev/doc/install), then run this again."
  exit 1
fi

# Debian packages, checked one by one so a ready machine installs nothing.
# pip installs the packages scripts import (uv, when installed, instead).
pkgs=(bash python3 python3-pip nodejs npm ca-certificates)
# The desktop window: Wails builds against GTK 3 and WebKitGTK 4.1 with cgo.
desktop=(libgtk-3-dev libwebkit2gtk-4.1-dev pkg-config build-essential)
if [ "$mode" = "test" ]; then
  # The UI's end-to-end test drives Debian's Chromium (never a downloaded
  # one); the desktop test runs the real window under Xvfb, screenshots it
  # with ImageMagick, drives it through X11 (python3-xlib) and reads its
  # clipboard (xclip), with stand-ins for the desktop's status area and
  # notification service on a private session bus (python3-dbus,
  # python3-gi); the packages are built with nsis and checked with
  # desktop-file-utils and lintian; the Windows builds run under wine64, with a shim
  # DLL built by MinGW (e2e/wine.sh says why).
  pkgs+=(chromium fonts-dejavu-core "${desktop[@]}" xvfb xauth imagemagick python3-xlib xclip nsis desktop-file-utils lintian dbus-daemon python3-dbus python3-gi wine64 gcc-mingw-w64-x86-64-win32)
elif [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  pkgs+=("${desktop[@]}")
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# Node from another source (nodesource, nvm) counts as installed.
if command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
fi
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
fi
# A Python with pip from another source (pyenv, python.org) counts too.
if python3 -m pip --version >/dev/null 2>&1; then
  missing=("${missing[@]/python3-pip}")
fi
read -r -a missing <<<"${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    say "Missing Debian packages: ${missing[*]}. Install them as root: apt-get install ${missing[*]}"
    exit 1
  fi
  say "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

say "Downloading Go modules (and the Go toolchain go.mod pins, if needed)"
GOTOOLCHAIN=auto go mod download
# tygo (make types, and make test's check of the generated API types)
(cd tools && GOTOOLCHAIN=auto go mod download)

if [ "$mode" = "test" ]; then
  for dir in compat e2e; do
    say "Installing npm packages in $dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  done
fi
say "Ready."
