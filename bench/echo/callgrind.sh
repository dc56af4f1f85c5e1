#!/usr/bin/env bash
# Instructions per message in lappsd, raw /echo against the LAppS-protocol /echo_lapps:
# the stable figure behind run.sh --lapps (msgs/s and CPU ticks move with the machine;
# instruction counts do not).
#
#   bench/echo/callgrind.sh [--lua [--luajit-lib DIR]] [--lappsd PATH] [--build DIR]
#                           [--port N] [-s BYTES] [-c N] [--window S] [--top N] [--keep DIR]
#
# For k = 8 and k = 1 (messages in flight per connection) and each path, lappsd (one
# worker, -c DIR with a ws.json on --port, default 5383) runs under
# `valgrind --tool=callgrind`, pinned to CPU 0; loadgen (ws:// for /echo, --lapps for
# /echo_lapps; -c 100 -s 20 by default) runs pinned to CPU 1. Once the load is steady,
# `callgrind_control -z` zeroes the counters, --window seconds later (default 5)
# `callgrind_control -d` dumps them. Messages = calls of the service's callback in that
# dump (echo / echo_lapps in cmd/lappsd/main.c), reads = calls of lapps__conn_on_event.
# Printed: instructions (Ir) per message of the whole process, of each path, their
# difference (what the protocol costs per request), then for /echo_lapps the functions
# with the most Ir per message, inclusive (with callees) and self.
#
# --lua: also the Lua services of bench/echo/lua (lappsd -c DIR with its lapps.json, the
# applications directory made absolute): the raw Lua echo at /echo (messages = calls of
# on_message in lib/lua/host.c) and the LAppS Lua echo at /echo_lapps (messages = calls of
# on_request), each under valgrind with --smc-check=all-non-file (LuaJIT writes and patches
# machine code). Printed: Ir per message of all four paths and the Lua paths' differences
# to the C ones, then the top functions of the two Lua paths instead of /echo_lapps'.
# Code without a symbol (LuaJIT's internals: its interpreter, allocator, GC, string
# interning; and the traces it compiled) is summed per object file. --luajit-lib DIR runs
# the Lua paths with LD_LIBRARY_PATH=DIR: DIR/libluajit-5.1.so.2 a LuaJIT of the same
# version built with symbols (make CCDEBUG=-g), so the profile names LuaJIT's functions
# (the Ir figures are then that build's, within a few per cent of the distribution's).
#
# Each path's dump is kept under --keep DIR (default: a temporary directory, removed).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build="$repo/build"
lappsd=""
port=5383
size=20
conns=100
window=5
top=22
keep=""
lua=0
luajit_lib=""
while [ $# -gt 0 ]; do
    case "$1" in
    --lua) lua=1 ;;
    --luajit-lib) luajit_lib=${2:?--luajit-lib needs a directory}; shift ;;
    --lappsd) lappsd=${2:?--lappsd needs a path}; shift ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    -s) size=${2:?-s needs a size}; shift ;;
    -c) conns=${2:?-c needs a count}; shift ;;
    --window) window=${2:?--window needs seconds}; shift ;;
    --top) top=${2:?--top needs a count}; shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "callgrind.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
lappsd=${lappsd:-$build/cmd/lappsd/lappsd}
loadgen="$build/bench/echo/loadgen"
for t in valgrind callgrind_control callgrind_annotate taskset; do
    command -v $t >/dev/null || { echo "callgrind.sh: $t not found" >&2; exit 1; }
done
[ -x "$lappsd" ] || { echo "callgrind.sh: lappsd '$lappsd' not found (--lappsd PATH)" >&2; exit 1; }
[ -x "$loadgen" ] || { echo "callgrind.sh: $loadgen not found; build first" >&2; exit 1; }
if [ -n "$luajit_lib" ]; then
    [ "$lua" = 1 ] || { echo "callgrind.sh: --luajit-lib goes with --lua" >&2; exit 2; }
    [ -f "$luajit_lib/libluajit-5.1.so.2" ] ||
        { echo "callgrind.sh: no $luajit_lib/libluajit-5.1.so.2" >&2; exit 1; }
    luajit_lib=$(cd "$luajit_lib" && pwd)
fi
server_cpu=${LAPPS_BENCH_SERVER_CPU:-0}
client_cpu=${LAPPS_BENCH_CLIENT_CPU:-1}

if [ -n "$keep" ]; then
    mkdir -p "$keep" && work=$(cd "$keep" && pwd) || exit 1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/lapps-cg.XXXXXX") || exit 1
fi
printf '{"ip":"127.0.0.1","port":%s,"workers":{"workers":1}}\n' "$port" >"$work/ws.json"
if [ "$lua" = 1 ]; then
    # the Lua services: bench/echo/lua/lapps.json, its applications directory made absolute
    case "$here" in *[\\\"\|\&]*)
        echo "callgrind.sh: --lua: the path $here has a character lapps.json cannot take here" >&2
        exit 1 ;;
    esac
    mkdir -p "$work/lua"
    cp "$work/ws.json" "$work/lua/ws.json"
    sed 's|"applications": *"apps"|"applications": "'"$here"'/lua/apps"|' "$here/lua/lapps.json" \
        >"$work/lua/lapps.json"
    grep -q "\"$here/lua/apps\"" "$work/lua/lapps.json" ||
        { echo "callgrind.sh: could not set directories.applications" >&2; exit 1; }
fi

vpid="" lpid=""
cleanup() {
    [ -n "$lpid" ] && kill "$lpid" 2>/dev/null
    if [ -n "$vpid" ]; then
        kill "$vpid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$vpid" 2>/dev/null && kill -9 "$vpid" 2>/dev/null
        wait "$vpid" 2>/dev/null
    fi
    [ -z "$keep" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# calls NAME FILE: how often NAME was called in a callgrind dump (uncompressed names)
calls() {
    awk -v f="$1" '/^cfn=/ { cur = substr($0, 5) } /^calls=/ && cur == f { split($0, a, "[= ]"); n += a[2] }
        END { print n + 0 }' "$2"
}
# total Ir of a dump
total_ir() { sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$1" | head -1; }

# measure TAG K PATH CALLBACK [LOADGEN-FLAGS...]: sets result to "msgs reads Ir" of the window
# (not in a subshell: the cleanup trap must know the PIDs). A TAG starting with "lua" runs
# the Lua services' lappsd (-c $work/lua).
measure() {
    local tag=$1 k=$2 path=$3 cb=$4 conf=$work vgopts=() envs=()
    shift 4
    if [ "${tag#lua}" != "$tag" ]; then
        conf=$work/lua
        vgopts=(--smc-check=all-non-file)
        [ -n "$luajit_lib" ] && envs=("LD_LIBRARY_PATH=$luajit_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
    fi
    if port_open "$port"; then
        echo "callgrind.sh: port $port is already in use" >&2
        return 1
    fi
    env "${envs[@]}" taskset -c "$server_cpu" valgrind --tool=callgrind --compress-strings=no "${vgopts[@]}" \
        --callgrind-out-file="$work/cg.$tag" "$lappsd" -c "$conf" 2>"$work/vg.$tag.log" &
    vpid=$!
    for _ in $(seq 150); do port_open "$port" && break; sleep 0.2; done
    port_open "$port" || { echo "callgrind.sh: lappsd under valgrind did not listen" >&2; return 1; }
    taskset -c "$client_cpu" "$loadgen" "$@" -c "$conns" -k "$k" -s "$size" -w 1 \
        -d $((window + 6)) "ws://127.0.0.1:$port$path" >"$work/lg.$tag.out" 2>&1 &
    lpid=$!
    sleep 4 # connections up (slow under valgrind), then a steady load
    callgrind_control -z "$vpid" >>"$work/control.log" 2>&1
    sleep "$window"
    callgrind_control -d "$vpid" >>"$work/control.log" 2>&1
    wait "$lpid"
    local rc=$?
    lpid=""
    kill "$vpid"
    wait "$vpid" 2>/dev/null
    vpid=""
    if [ $rc -ne 0 ]; then
        echo "callgrind.sh: loadgen failed on $path:" >&2
        cat "$work/lg.$tag.out" >&2
        return 1
    fi
    local dump="$work/cg.$tag.1"
    [ -f "$dump" ] || { echo "callgrind.sh: no dump $dump" >&2; return 1; }
    result="$(calls "$cb" "$dump") $(calls lapps__conn_on_event "$dump") $(total_ir "$dump")"
}

# breakdown DUMP MSGS: the top functions per message, inclusive and self
breakdown() {
    local dump=$1 msgs=$2
    for mode in yes no; do
        callgrind_annotate --inclusive=$mode --threshold=100 --auto=no "$dump" 2>/dev/null |
            awk -v msgs="$msgs" -v top="$top" -v mode=$mode '
            /file:function/ { table = 1; next }
            table && /^ *$/ { table = 0 }
            table && /^ *[0-9,]+ +\( *[0-9.]+%\) +[^ ]/ {
                ir = $1; gsub(/,/, "", ir); ir += 0
                fn = $0; sub(/^[^)]*\) +/, "", fn)
                obj = ""
                if (match(fn, / \[[^]]*\]$/)) obj = substr(fn, RSTART + 2, RLENGTH - 3)
                sub(/^.*\//, "", obj)
                sub(/ \[.*$/, "", fn); sub(/^.*:/, "", fn)
                if (fn ~ /^(clone|start_thread|PROGRAM TOTALS)$/) next
                # a recursion level (fn, quote, 2): self adds to fn, inclusive is within fn
                sub("\047[0-9]+$", "", fn)
                # code without a symbol, summed per object (self; inclusive: the largest)
                if (fn ~ /^0x[0-9a-fA-F]+$/)
                    fn = "(no symbol) " (obj == "" || obj == "???" ? "generated code (JIT traces)" : obj)
                # a function may be listed more than once (its inlined parts by file, a
                # path spelled two ways): self costs add up, inclusive ones overlap
                if (!(fn in cost)) order[++n] = fn
                if (mode == "no") cost[fn] += ir
                else if (ir > cost[fn]) cost[fn] = ir
            }
            END {
                for (i = 1; i <= n; i++) { # sort by cost, largest first
                    for (j = i; j > 1 && cost[order[j]] > cost[order[j - 1]]; j--) {
                        t = order[j]; order[j] = order[j - 1]; order[j - 1] = t
                    }
                }
                for (i = 1; i <= n && i <= top; i++) printf "    %8.1f  %s\n", cost[order[i]] / msgs, order[i]
            }
            BEGIN { printf "  %s, Ir per message:\n", mode == "yes" ? "inclusive (with callees)" : "self" }'
    done
}

loadavg0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "callgrind: lappsd (1 worker, port $port) under callgrind, loadgen -c $conns -s $size;" \
    "window ${window} s; $(valgrind --version)" >&2
declare -A res
paths="raw lapps"
[ "$lua" = 1 ] && paths="raw lapps luaraw lualapps"
for k in 8 1; do
    for p in $paths; do
        case $p in
        raw) measure "raw.k$k" "$k" /echo echo || exit 1 ;;
        lapps) measure "lapps.k$k" "$k" /echo_lapps echo_lapps --lapps || exit 1 ;;
        luaraw) measure "luaraw.k$k" "$k" /echo on_message || exit 1 ;;
        lualapps) measure "lualapps.k$k" "$k" /echo_lapps on_request --lapps || exit 1 ;;
        esac
        res[$p.$k]=$result
        echo "  k=$k $p: msgs reads Ir = $result" >&2
        case $result in 0\ *)
            echo "callgrind.sh: no message counted on $p (is the callback still named as here?)" >&2
            exit 1 ;;
        esac
    done
done
loadavg1=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "Callgrind, $(date -u '+%Y-%m-%d %H:%M UTC'): lappsd $lappsd, 1 worker; loadgen -c $conns" \
    "-s $size; ${window} s window; load average before $loadavg0, after $loadavg1"
[ -n "$luajit_lib" ] && echo "Lua paths with LD_LIBRARY_PATH=$luajit_lib (LuaJIT $(strings \
    "$luajit_lib/libluajit-5.1.so.2" | sed -n 's/^LuaJIT \(2\.[0-9a-z.-]*\)$/\1/p' | head -1))"
if [ "$lua" = 1 ]; then
    # Ir per message of each path; the Lua paths against the C ones at the same k
    irpm() { read -r m _ i <<<"${res[$1]}"; awk -v i="$i" -v m="$m" 'BEGIN { printf "%.1f", i / m }'; }
    printf '%-3s %-17s %9s %9s %10s %13s %18s\n' k path msgs msgs/read Ir/msg "vs C /echo" \
        "vs C /echo_lapps"
    for k in 8 1; do
        c0=$(irpm raw.$k) c1=$(irpm lapps.$k)
        for p in raw lapps luaraw lualapps; do
            read -r m r _ <<<"${res[$p.$k]}"
            x=$(irpm $p.$k)
            case $p in
            raw) label="C /echo" d0=- d1=- ;;
            lapps) label="C /echo_lapps" d1=-
                d0=$(awk -v a="$c0" -v b="$x" 'BEGIN { printf "%+.1f", b - a }') ;;
            luaraw) label="Lua /echo" d1=-
                d0=$(awk -v a="$c0" -v b="$x" 'BEGIN { printf "%+.1f", b - a }') ;;
            lualapps) label="Lua /echo_lapps"
                d0=$(awk -v a="$c0" -v b="$x" 'BEGIN { printf "%+.1f", b - a }')
                d1=$(awk -v a="$c1" -v b="$x" 'BEGIN { printf "%+.1f", b - a }') ;;
            esac
            printf '%-3s %-17s %9s %9.2f %10s %13s %18s\n' "$k" "$label" "$m" \
                "$(awk -v m="$m" -v r="$r" 'BEGIN { print r ? m / r : 0 }')" "$x" "$d0" "$d1"
        done
    done
    for p in luaraw lualapps; do
        for k in 8 1; do
            read -r m1 _ _ <<<"${res[$p.$k]}"
            echo
            echo "$([ $p = luaraw ] && echo "Lua /echo" || echo "Lua /echo_lapps"), k=$k: top functions"
            breakdown "$work/cg.$p.k$k.1" "$m1"
        done
    done
    exit 0
fi
printf '%-3s %-12s %9s %9s %10s %10s\n' k path msgs msgs/read Ir/msg "+Ir/req"
for k in 8 1; do
    read -r m0 r0 i0 <<<"${res[raw.$k]}"
    read -r m1 r1 i1 <<<"${res[lapps.$k]}"
    a=$(awk -v i="$i0" -v m="$m0" 'BEGIN { printf "%.1f", i / m }')
    b=$(awk -v i="$i1" -v m="$m1" 'BEGIN { printf "%.1f", i / m }')
    printf '%-3s %-12s %9s %9.2f %10s %10s\n' "$k" /echo "$m0" "$(awk -v m="$m0" -v r="$r0" \
        'BEGIN { print r ? m / r : 0 }')" "$a" -
    printf '%-3s %-12s %9s %9.2f %10s %10s\n' "$k" /echo_lapps "$m1" "$(awk -v m="$m1" -v r="$r1" \
        'BEGIN { print r ? m / r : 0 }')" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f", b - a }')"
done
for k in 8 1; do
    read -r m1 _ _ <<<"${res[lapps.$k]}"
    echo
    echo "/echo_lapps, k=$k: top functions"
    breakdown "$work/cg.lapps.k$k.1" "$m1"
done
