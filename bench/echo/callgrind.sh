#!/usr/bin/env bash
# Instructions per message in lappsd, raw /echo against the LAppS-protocol /echo_lapps:
# the stable figure behind run.sh --lapps (msgs/s and CPU ticks move with the machine;
# instruction counts do not).
#
#   bench/echo/callgrind.sh [--lappsd PATH] [--build DIR] [--port N] [-s BYTES] [-c N]
#                           [--window S] [--top N] [--keep DIR]
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
while [ $# -gt 0 ]; do
    case "$1" in
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
server_cpu=${LAPPS_BENCH_SERVER_CPU:-0}
client_cpu=${LAPPS_BENCH_CLIENT_CPU:-1}

if [ -n "$keep" ]; then
    mkdir -p "$keep" && work=$(cd "$keep" && pwd) || exit 1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/lapps-cg.XXXXXX") || exit 1
fi
printf '{"ip":"127.0.0.1","port":%s,"workers":{"workers":1}}\n' "$port" >"$work/ws.json"

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
# (not in a subshell: the cleanup trap must know the PIDs)
measure() {
    local tag=$1 k=$2 path=$3 cb=$4
    shift 4
    if port_open "$port"; then
        echo "callgrind.sh: port $port is already in use" >&2
        return 1
    fi
    taskset -c "$server_cpu" valgrind --tool=callgrind --compress-strings=no \
        --callgrind-out-file="$work/cg.$tag" "$lappsd" -c "$work" 2>"$work/vg.$tag.log" &
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
                fn = $0; sub(/^[^)]*\) +/, "", fn); sub(/ \[.*$/, "", fn); sub(/^.*:/, "", fn)
                if (fn ~ /^(clone|start_thread|PROGRAM TOTALS)$/) next
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
for k in 8 1; do
    for p in raw lapps; do
        if [ $p = raw ]; then
            measure "raw.k$k" "$k" /echo echo || exit 1
        else
            measure "lapps.k$k" "$k" /echo_lapps echo_lapps --lapps || exit 1
        fi
        res[$p.$k]=$result
        echo "  k=$k $p: msgs reads Ir = $result" >&2
    done
done
loadavg1=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "Callgrind, $(date -u '+%Y-%m-%d %H:%M UTC'): lappsd $lappsd, 1 worker; loadgen -c $conns" \
    "-s $size; ${window} s window; load average before $loadavg0, after $loadavg1"
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
