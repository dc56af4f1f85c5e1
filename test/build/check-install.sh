#!/bin/sh
# Installs the build into a scratch root, checks that lappsd, its man page and its demo
# services are there, then compiles and runs examples/version.c the way a user would:
# against the installed headers and library, found through the installed liblapps.pc.
# usage: check-install.sh BUILD_DIR EXAMPLE_C CC
set -eu
build=$1 example=$2 cc=$3
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null
# lappsd, its man page and the demo services it serves without a lapps.json.
for f in bin/lappsd share/man/man8/lappsd.8 share/lapps/demo/lapps.json \
         share/lapps/demo/apps/echo/echo.lua include/lapps/config.h; do
    [ -n "$(find "$root" -path "*/$f" | head -n 1)" ] || { echo "$f was not installed"; exit 1; }
done
pc=$(find "$root" -name liblapps.pc | head -n 1)
[ -n "$pc" ] || { echo "liblapps.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs liblapps)
echo "pkg-config: $flags"
# shellcheck disable=SC2086
"$cc" -std=c99 -Wall -Werror -o "$root/version" "$example" $flags
so=$(find "$root" -name 'liblapps.so.*' | head -n 1)
LD_LIBRARY_PATH="$(dirname "$so")" "$root/version"
