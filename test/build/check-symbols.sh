#!/bin/sh
# Fails when the shared library exports a symbol that is not lapps_*, or when the
# exported symbols, the version script's global list and the functions the public
# headers declare with LAPPS_EXPORT are not the same three sets.
# usage: check-symbols.sh NM LIB SYMFILE HEADER_DIR
set -eu
nm=$1 lib=$2 symfile=$3 hdrdir=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$nm" -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' |
    grep -v '^LAPPS_[0-9.]*$' | sort -u >"$tmp/exported"
sed -n '/global:/,/local:/p' "$symfile" | grep -E '^[[:space:]]+[A-Za-z_][A-Za-z0-9_]*;' |
    tr -d ' \t;' | sort -u >"$tmp/script"
cat "$hdrdir"/*.h "$hdrdir"/*.h.in 2>/dev/null | tr '\n' ' ' | sed 's/;/;\n/g' |
    grep 'LAPPS_EXPORT' | grep -v '#define' | grep -oE 'lapps_[a-z0-9_]+[[:space:]]*\(' |
    tr -d ' (' | sort -u >"$tmp/declared"

status=0
bad=$(grep -v '^lapps_' "$tmp/exported" || true)
if [ -n "$bad" ]; then
    echo "exported symbols without the lapps_ prefix:"; echo "$bad"; status=1
fi
if ! diff -u "$tmp/script" "$tmp/exported"; then
    echo "the library's exports differ from $symfile (- script, + library)"; status=1
fi
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "the library's exports differ from the headers' LAPPS_EXPORT declarations (- headers, + library)"; status=1
fi
[ "$status" = 0 ] && echo "$(wc -l <"$tmp/exported") exported symbols, all declared and listed"
exit $status
