#!/usr/bin/env bash
# Broadcast fan-out benchmark: one message to N subscribers, lappsd against node ws,
# measured in the same run.
#
#   bench/bcast/run.sh [--build DIR] [--conns N] [--rounds R] [--quick] [--keep DIR]
#                      [--msgs K] [--window W] [--workers N]
#
# Servers, each started once and pinned to core 0: lappsd's example build/examples/bcast
# with 2 workers (ws://127.0.0.1:5191/room: every message to every connection, sender
# included, with lapps_bcast_send; plus a "tick N" text frame each second) and node ws
# (bench/peers/ws-bcast.js, ws://127.0.0.1:5192/room: the idiomatic loop over wss.clients,
# one thread, the same "tick N" each second). The client, build/bench/bcast/fanout, runs pinned to core 1: it opens N
# connections (default 10 000), then
#   - latency: 20 warm-up messages, then 200 sent one at a time (the next when the last
#     connection has read the previous): send -> last delivery p50/p99/max, send -> first;
#   - throughput: 16 messages in flight, 1 s warm-up, 3 s window: deliveries (frames read
#     by the N connections) per second and the server's CPU (user + sys, /proc/PID/stat)
#     per delivery.
# Every connection must receive every message exactly once, in order, byte for byte, or
# the run fails without figures. Servers alternate within each round (order rotated each
# round); the table shows the median of the rounds, 'x node' the median of the per-round
# ratios to node ws. See bench/README.md, "Broadcast fan-out".
#
# --conns N: subscribers (default 10000; the client needs N + 16 descriptors, the hard
#   limit here is 20 000).
# --rounds R: default 3.
# --msgs K: latency messages per run (default 200, after K/10 warm-up).
# --window W: messages in flight in the throughput phase (default 16).
# --workers N: lappsd's workers (default 2; all on the server core).
# --quick: 1000 connections, 1 round, 50 latency messages, 1 s window (a smoke test).
# --build DIR: Meson build directory with examples/bcast and bench/bcast/fanout (default build).
# --keep DIR: keep the raw fanout output and the server logs in DIR.
#
# Environment: LAPPS_BENCH_NODE_DIR (a directory whose node_modules has `ws`; default
# build-deps/node when .ci/install-deps put ws there, else ${TMPDIR:-/tmp}/lapps-bench-node,
# where ws@8 is installed if missing), LAPPS_BENCH_BCAST_PORT (lappsd's port, default 5191;
# node ws takes the next), LAPPS_BENCH_SERVER_CPU / LAPPS_BENCH_CLIENT_CPU (default 0 / 1).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../common/lib.sh
. "$here/../common/lib.sh"

build="$repo/build"
conns=""
rounds=""
msgs=""
window=16
workers=2
quick=0
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=${2:?--build needs a directory}; shift ;;
    --conns) conns=${2:?--conns needs a number}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --msgs) msgs=${2:?--msgs needs a number}; shift ;;
    --window) window=${2:?--window needs a number}; shift ;;
    --workers) workers=${2:?--workers needs a number}; shift ;;
    --quick) quick=1 ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -h | --help) bench_usage "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$quick" = 1 ]; then
    conns=${conns:-1000} rounds=${rounds:-1} msgs=${msgs:-50} warm=1 dur=1
else
    conns=${conns:-10000} rounds=${rounds:-3} msgs=${msgs:-200} warm=1 dur=3
fi
for v in conns rounds msgs window workers; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "run.sh: bad --$v '${!v}'" >&2; exit 2 ;; esac
done
lat_warm=$((msgs / 10))

fanout="$build/bench/bcast/fanout"
bcast="$build/examples/bcast"
bench_need_built "$fanout" "$bcast"

bench_pick_cpus "servers and client"
port0=${LAPPS_BENCH_BCAST_PORT:-5191}
if [ -n "${LAPPS_BENCH_NODE_DIR:-}" ]; then
    node_dir=$LAPPS_BENCH_NODE_DIR
elif [ -f "$repo/build-deps/node/node_modules/ws/package.json" ]; then
    node_dir="$repo/build-deps/node"
else
    node_dir="${TMPDIR:-/tmp}/lapps-bench-node"
fi

# The servers hold N connections too: the soft limit they inherit must allow that.
need=$((conns + 64))
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
        echo "run.sh: $conns connections need $need descriptors; the hard limit is $hard" >&2
        exit 1
    fi
    ulimit -Sn "$need" || exit 1
fi

bench_make_workdir lapps-bcast
results="$work/results"
: >"$results"

# ---- servers ----------------------------------------------------------------------------

names=() # in table order
declare -A pid url log

bench_cleanup_on_exit 30 # 3 s for a server to close its connections before SIGKILL

# start NAME PORT URL COMMAND...
start() {
    local name=$1 port=$2 u=$3
    shift 3
    bench_start_server "$name" "$port" "$@" || return 0
    url[$name]=$u
}

start lappsd "$port0" "ws://127.0.0.1:$port0/room" "$bcast" "$port0" "$workers"
if bench_node_ws; then
    p=$((port0 + 1))
    start node-ws "$p" "ws://127.0.0.1:$p/room" \
        env NODE_PATH="$node_dir/node_modules" node "$repo/bench/peers/ws-bcast.js" "$p"
fi
if [ "${#names[@]}" -eq 0 ]; then
    echo "run.sh: no server started" >&2
    exit 1
fi

# ---- runs -------------------------------------------------------------------------------

nruns=$((${#names[@]} * rounds))
loadavg0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bcast benchmark: ${names[*]}; $conns connections, $rounds round(s) of $msgs latency messages" \
    "+ ${warm} s warm-up + ${dur} s at $window in flight ($nruns runs); servers on CPU" \
    "$server_cpu, fanout on CPU $client_cpu" >&2

run=0
failed=0
for ((r = 1; r <= rounds; r++)); do
    ns=${#names[@]}
    for ((i = 0; i < ns; i++)); do
        name=${names[$(((i + r - 1) % ns))]} # rotate the order from round to round
        run=$((run + 1))
        if ! bench_server_alive "$name"; then
            echo "$name $r FAIL" >>"$results"
            failed=1
            continue
        fi
        out=$(taskset -c "$client_cpu" timeout 900 "$fanout" -c "$conns" -n "$msgs" -m "$lat_warm" \
            -W "$window" -w "$warm" -d "$dur" -p "${pid[$name]}" --json "${url[$name]}" 2>"$work/err")
        rc=$?
        if [ $rc -eq 0 ] && [ -n "$out" ]; then
            echo "$name $r $out" >>"$results"
            rate=$(echo "$out" | sed -n 's/.*"deliveries_per_s":\([0-9.]*\).*/\1/p')
            p50=$(echo "$out" | sed -n 's/.*"lat_p50_us":\([0-9.]*\).*/\1/p')
            printf '[%d/%d] round %d %-8s %9s deliveries/s, one message to all: p50 %s us\n' "$run" \
                "$nruns" "$r" "$name" "$rate" "$p50" >&2
        else
            echo "$name $r FAIL" >>"$results"
            failed=1
            printf '[%d/%d] round %d %-8s FAILED (rc %d):\n' "$run" "$nruns" "$r" "$name" "$rc" >&2
            tail -12 "$work/err" | sed 's/^/    /' >&2
        fi
        bench_show_notes fanout "$name" "$work/err"
    done
done
loadavg1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- table ------------------------------------------------------------------------------

versions="$(bench_system_versions)$(bench_node_versions)"

echo
echo "Broadcast fan-out, $(date -u '+%Y-%m-%d %H:%M UTC'): $conns subscribers, median of $rounds" \
    "round(s)"
echo "$versions; load average before $loadavg0, after $loadavg1"
echo "servers on CPU $server_cpu (lappsd: examples/bcast, $workers workers; node ws: one thread), fanout on" \
    "CPU $client_cpu; latency: $msgs messages one at a time; throughput: $window in flight, ${dur} s" \
    "window"
echo
awk -v order="${names[*]}" "$BENCH_AWK_MEDIAN"'
{
    if ($3 == "FAIL") { fails[$1]++; next }
    line = $0
    sub(/^[^{]*/, "", line)
    # split the flat JSON object on commas outside quotes (thread ticks are "a b c")
    gsub(/[{}]/, "", line)
    n = split(line, kv, ",")
    delete f
    for (i = 1; i <= n; i++) {
        k = kv[i]; sub(/:.*/, "", k); gsub(/"/, "", k)
        v = kv[i]; sub(/^[^:]*:/, "", v); gsub(/"/, "", v)
        f[k] = v
    }
    runs[$1]++
    add($1 SUBSEP "rate", f["deliveries_per_s"])
    add($1 SUBSEP "p50", f["lat_p50_us"])
    add($1 SUBSEP "p99", f["lat_p99_us"])
    add($1 SUBSEP "max", f["lat_max_us"])
    add($1 SUBSEP "first", f["first_p50_us"])
    add($1 SUBSEP "tp50", f["tp_p50_us"] / 1000)
    add($1 SUBSEP "tp99", f["tp_p99_us"] / 1000)
    add($1 SUBSEP "user", f["user_us_per_delivery"])
    add($1 SUBSEP "cpu", f["user_us_per_delivery"] + f["sys_us_per_delivery"])
    add($1 SUBSEP "lg", f["client_cpu_pct"])
    add($1 SUBSEP "lsrv", f["lat_server_cpu_pct"])
    rate[$1 SUBSEP $2] = f["deliveries_per_s"]
    threads[$1] = threads[$1] sprintf(" [%s]", f["server_thread_ticks"])
    if ($2 + 0 > maxr) maxr = $2 + 0
}
END {
    ns = split(order, srv, " ")
    printf "%-8s %12s %6s %9s %9s %9s %8s %8s %8s %7s %7s %4s\n", "server", "deliveries/s",
        "x node", "p50 us", "p99 us", "max us", "first", "tp p50", "tp p99", "cpu us", "user us",
        "lg%"
    printf "%-8s %12s %6s %9s %9s %9s %8s %8s %8s %7s %7s %4s\n", "", "", "", "(to last)",
        "(to last)", "", "p50 us", "ms", "ms", "/dlv", "/dlv", ""
    for (i = 1; i <= ns; i++) {
        name = srv[i]
        if (!(name in runs)) {
            printf "%-8s %12s\n", name, "FAILED"
            continue
        }
        ratios = ""
        for (r = 1; r <= maxr; r++) {
            a = name SUBSEP r; b = "node-ws" SUBSEP r
            if ((a in rate) && (b in rate) && rate[b] > 0)
                ratios = ratios " " sprintf("%.2f", rate[a] / rate[b])
        }
        ratio = median(ratios)
        note = (name in fails) ? sprintf("  (%d failed)", fails[name]) : ""
        printf "%-8s %12.0f %6s %9.0f %9.0f %9.0f %8.0f %8.1f %8.1f %7.2f %7.3f %4.0f%s\n", name,
            median(vals[name SUBSEP "rate"]), ratio == "" ? "-" : sprintf("%.2f", ratio),
            median(vals[name SUBSEP "p50"]), median(vals[name SUBSEP "p99"]),
            median(vals[name SUBSEP "max"]), median(vals[name SUBSEP "first"]),
            median(vals[name SUBSEP "tp50"]), median(vals[name SUBSEP "tp99"]),
            median(vals[name SUBSEP "cpu"]), median(vals[name SUBSEP "user"]),
            median(vals[name SUBSEP "lg"]), note
        all = all sprintf("  %-8s deliveries/s per round: %s; x node per round:%s; server CPU in the" \
                          " latency phase: %s %%\n", name, vals[name SUBSEP "rate"],
                          ratios == "" ? " -" : ratios, vals[name SUBSEP "lsrv"])
        all = all sprintf("  %-8s server threads, CPU ticks in the window, per round:%s\n", name,
                          threads[name])
    }
    print ""
    printf "%s", all
}' "$results"

if [ "$failed" = 1 ]; then
    echo
    echo "Some runs failed; see the messages above."
    exit 1
fi
