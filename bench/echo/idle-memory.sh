#!/usr/bin/env bash
# Idle-connection memory: how much a server's resident memory grows per open, idle
# WebSocket (or TCP) connection.
#
#   bench/echo/idle-memory.sh [-n CONNS] [--settle S] [--build DIR] [--lappsd PATH]
#   bench/echo/idle-memory.sh --tls [-n CONNS] [--settle S] [--build DIR] [--lappsd PATH]
#   bench/echo/idle-memory.sh [-n CONNS] [--settle S] [--build DIR] --pid PID --url URL [--raw]
#
# First form: starts each peer (tcp-echo, lws-echo, node ws, and lappsd when --lappsd
# PATH is given; see run.sh) pinned to core 0, one at a time, and measures it. --tls:
# lappsd over ws:// and over wss:// (both from a ws.json with one worker, a self-signed
# P-256 certificate made in a temporary directory; --lappsd defaults to
# build/cmd/lappsd/lappsd), then node ws over ws:// and wss:// when installed. Third
# form: measures a server that is already running (URL ws://, wss:// or, with --raw,
# HOST:PORT).
#
# For each server, loadgen --idle reads VmRSS from /proc/PID/status, opens CONNS
# connections (handshake done, then nothing sent), waits S seconds (default 3) and reads
# VmRSS again: (after - before) / CONNS is the cost of one idle connection, including
# whatever the first connections made the server allocate once. Default CONNS is 10000:
# loadgen and the server each hold CONNS descriptors, below the 20 000 hard limit here
# (both raise their soft limit). Ports as in run.sh (LAPPS_BENCH_PORT, default 5091..).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

conns=10000
settle=3
build="$repo/build"
lappsd=""
tls=0
ext_pid=""
ext_url=""
raw=0
while [ $# -gt 0 ]; do
    case "$1" in
    -n) conns=${2:?-n needs a number}; shift ;;
    --settle) settle=${2:?--settle needs seconds}; shift ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    --lappsd) lappsd=${2:?--lappsd needs a path}; shift ;;
    --pid) ext_pid=${2:?--pid needs a PID}; shift ;;
    --url) ext_url=${2:?--url needs a URL}; shift ;;
    --raw) raw=1 ;;
    --tls) tls=1 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "idle-memory.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

loadgen="$build/bench/echo/loadgen"
if [ ! -x "$loadgen" ]; then
    echo "idle-memory.sh: $loadgen not found; build first (or --build DIR)" >&2
    exit 1
fi
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$conns" -gt $((hard - 64)) ]; then
    echo "idle-memory.sh: $conns connections need more than the hard fd limit ($hard)" >&2
    exit 1
fi

server_cpu=${LAPPS_BENCH_SERVER_CPU:-0}
client_cpu=${LAPPS_BENCH_CLIENT_CPU:-1}
[ "$(nproc)" -lt 2 ] && client_cpu=$server_cpu
port0=${LAPPS_BENCH_PORT:-5091}
node_dir=${LAPPS_BENCH_NODE_DIR:-${TMPDIR:-/tmp}/lapps-bench-node}

rows=()
measure() { # NAME PID URL [--raw]
    local name=$1 p=$2 u=$3 out
    shift 3
    # Warm-up: the first connections touch one-time memory (library code pages such as
    # libcrypto's SHA-1 on the first handshake, read buffers, allocator arenas), which is
    # not a per-connection cost. 100 connections opened and closed first keep it out of
    # the measurement.
    taskset -c "$client_cpu" timeout 60 "$loadgen" --idle -c 100 -w 1 -p "$p" "$@" "$u" \
        >/dev/null || true
    out=$(taskset -c "$client_cpu" timeout 180 "$loadgen" --idle -c "$conns" -w "$settle" -p "$p" \
        "$@" "$u") || {
        echo "idle-memory.sh: $name: loadgen failed" >&2
        rows+=("$(printf '%-10s %8s' "$name" FAILED)")
        return
    }
    # idle conns=N rss_before_kB=A rss_after_kB=B bytes/conn=C [tls=PROTOCOL/CIPHER]
    set -- $out
    rows+=("$(printf '%-10s %8s %12s %12s %12s %9s' "$name" "${2#conns=}" "${3#rss_before_kB=}" \
        "${4#rss_after_kB=}" "${5#bytes/conn=}" "$(awk -v b="${5#bytes/conn=}" \
        'BEGIN { printf "%.1f", b / 1024 }')")")
}

print_table() {
    echo
    echo "Idle connections: server VmRSS before and after $conns connections (settle ${settle} s)"
    printf '%-10s %8s %12s %12s %12s %9s\n' server conns "before kB" "after kB" "bytes/conn" \
        "KiB/conn"
    printf '%s\n' "${rows[@]}"
}

if [ -n "$ext_pid" ]; then
    [ -n "$ext_url" ] || { echo "idle-memory.sh: --pid needs --url" >&2; exit 2; }
    extra=()
    [ "$raw" = 1 ] && extra=(--raw)
    measure "pid-$ext_pid" "$ext_pid" "$ext_url" "${extra[@]}"
    print_table
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/lapps-idle.XXXXXX") || exit 1
spid=""
stop_server() {
    [ -z "$spid" ] && return
    kill "$spid" 2>/dev/null
    for _ in $(seq 20); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$spid" 2>/dev/null && kill -9 "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    spid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP PIPE

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# one NAME PORT URL LOADGEN-FLAG COMMAND...: start, measure, stop
one() {
    local name=$1 port=$2 u=$3 flag=$4
    shift 4
    if port_open "$port"; then
        echo "idle-memory.sh: port $port is already in use: skipping $name" >&2
        return
    fi
    taskset -c "$server_cpu" "$@" >"$work/$name.log" 2>&1 &
    spid=$!
    for _ in $(seq 100); do
        port_open "$port" && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    if ! port_open "$port"; then
        echo "idle-memory.sh: $name did not start; skipped" >&2
        tail -5 "$work/$name.log" >&2
        stop_server
        return
    fi
    sleep 0.5 # let it finish starting before the "before" reading
    if [ -n "$flag" ]; then
        measure "$name" "$spid" "$u" "$flag"
    else
        measure "$name" "$spid" "$u"
    fi
    stop_server
}

if [ "$tls" = 1 ]; then
    lappsd=${lappsd:-$build/cmd/lappsd/lappsd}
    if [ ! -x "$lappsd" ]; then
        echo "idle-memory.sh: lappsd '$lappsd' not found (--lappsd PATH)" >&2
        exit 1
    fi
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 -subj /CN=localhost \
        -addext "subjectAltName=IP:127.0.0.1" 2>"$work/openssl.log"; then
        echo "idle-memory.sh: making a self-signed certificate failed:" >&2
        cat "$work/openssl.log" >&2
        exit 1
    fi
    mkdir -p "$work/plain" "$work/tls"
    printf '{"ip":"127.0.0.1","port":5083,"workers":{"workers":1}}\n' >"$work/plain/ws.json"
    printf '{"ip":"127.0.0.1","port":5443,"workers":{"workers":1},"tls":true,%s}\n' \
        "\"tls_certificates\":{\"cert\":\"$work/cert.pem\",\"key\":\"$work/key.pem\"}" \
        >"$work/tls/ws.json"
    one lappsd 5083 "ws://127.0.0.1:5083/echo" "" "$lappsd" -c "$work/plain"
    one lappsd-tls 5443 "wss://127.0.0.1:5443/echo" "" "$lappsd" -c "$work/tls"
    if command -v node >/dev/null && [ -f "$node_dir/node_modules/ws/package.json" ]; then
        p=$((port0 + 2))
        one node-ws "$p" "ws://127.0.0.1:$p/echo" "" \
            env NODE_PATH="$node_dir/node_modules" node "$repo/bench/peers/ws-echo.js" "$p"
        p=$((port0 + 3))
        one node-wss "$p" "wss://127.0.0.1:$p/echo" "" \
            env NODE_PATH="$node_dir/node_modules" node "$repo/bench/peers/ws-echo.js" "$p" \
            "$work/cert.pem" "$work/key.pem"
    else
        echo "idle-memory.sh: node ws not installed in $node_dir (run.sh installs it): skipped" >&2
    fi
    print_table
    exit 0
fi

one tcp-echo "$port0" "127.0.0.1:$port0" --raw "$build/bench/peers/tcp-echo" "$port0"
if [ -n "$lappsd" ]; then
    if [ -x "$lappsd" ]; then
        one lappsd 5083 "ws://127.0.0.1:5083/echo" "" "$lappsd"
    else
        echo "idle-memory.sh: lappsd '$lappsd' not found: skipped" >&2
    fi
fi
if [ -x "$build/bench/peers/lws-echo" ]; then
    p=$((port0 + 1))
    one lws-echo "$p" "ws://127.0.0.1:$p/echo" "" "$build/bench/peers/lws-echo" "$p"
fi
if command -v node >/dev/null && [ -f "$node_dir/node_modules/ws/package.json" ]; then
    p=$((port0 + 2))
    one node-ws "$p" "ws://127.0.0.1:$p/echo" "" \
        env NODE_PATH="$node_dir/node_modules" node "$repo/bench/peers/ws-echo.js" "$p"
else
    echo "idle-memory.sh: node ws not installed in $node_dir (run.sh installs it): skipped" >&2
fi
print_table
