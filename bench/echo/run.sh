#!/usr/bin/env bash
# Echo benchmark: lappsd against its peers, measured in the same run.
#
#   bench/echo/run.sh [--quick] [--lappsd PATH] [--build DIR] [--rounds N] [--keep DIR]
#   bench/echo/run.sh --tls [--quick] [--lappsd PATH] [--build DIR] [--rounds N] [--keep DIR]
#   bench/echo/run.sh --lapps [--quick] [--lappsd PATH] [--build DIR] [--rounds N] [--keep DIR]
#   bench/echo/run.sh --lua [--quick] [--lappsd PATH] [--build DIR] [--rounds N] [--keep DIR]
#
# Servers, each pinned to core 0: tcp-echo (the raw TCP floor, loadgen --raw), lws-echo
# (libwebsockets), node ws (ws-echo.js) and, with --lappsd PATH, lappsd (started as PATH
# with no arguments; it serves ws://127.0.0.1:5083/echo). loadgen runs pinned to core 1.
# For every payload x connections x in-flight combination each server is measured once
# per round, servers interleaved (and their order rotated) within the round; the table
# shows the median of the rounds. See bench/README.md for what each column means.
#
# --tls: TLS against plain instead: lappsd over ws:// and over wss:// (both started with
# -c DIR, one worker; a self-signed P-256 certificate made in the work directory) and,
# when node and ws are available, node ws over ws:// and over wss:// (https). Payloads
# 20 B and 1 KiB, 100 connections, k=1 and 8; 'x plain' is each TLS server's msgs/s
# over its own plain msgs/s in the same round. --lappsd defaults to build/cmd/lappsd/lappsd.
#
# --lapps: the LAppS protocol against the raw echo: one lappsd (-c DIR, one worker) serving
# both ws://127.0.0.1:5083/echo (loadgen plain, row 'lappsd') and /echo_lapps (loadgen
# --lapps: CBOR requests echoed as {cid, result, status}, row 'echo_lapps'). Payloads 20 B
# and 1 KiB, 100 connections, k=1 and 8; 'x raw' is echo_lapps' msgs/s over /echo's in the
# same round; below the table the server user CPU per message of each and the difference
# (what the protocol costs per request). --lappsd defaults to build/cmd/lappsd/lappsd.
#
# --lua: Lua services against lappsd's C ones, two lappsd processes (one worker each, both
# on core 0, only one loaded at a time): lappsd -c DIR without a lapps.json serves the C
# rows 'c-raw' (ws://127.0.0.1:5083/echo) and 'c-lapps' (/echo_lapps, loadgen --lapps);
# lappsd -c DIR with bench/echo/lua/lapps.json (applications: bench/echo/lua/apps, made
# absolute in the work directory) serves the Lua rows 'lua-raw' (ws://127.0.0.1:5283/echo,
# apps/echo/echo.lua) and 'lua-lapps' (/echo_lapps, apps/echo_lapps/echo_lapps.lua). Payloads
# 20 B and 1 KiB, 100 connections, k=1 and 8; 'x c-raw' is a row's msgs/s over c-raw's in the
# same round; below the table lua-raw / c-raw, lua-lapps / c-raw and lua-lapps / c-lapps
# with the server user CPU per message of both rows.
#
# --quick: 4 combinations, 1 round, 2 s windows (a smoke test, not a result).
# --build DIR: Meson build directory with bench/echo/loadgen (default: build).
# --keep DIR: keep the raw loadgen output and the server logs in DIR.
#
# Environment: LAPPS_BENCH_NODE_DIR (where `ws` is installed, outside the repo; default
# ${TMPDIR:-/tmp}/lapps-bench-node), LAPPS_BENCH_PORT (first peer port, default 5091),
# LAPPS_BENCH_SERVER_CPU / LAPPS_BENCH_CLIENT_CPU (default 0 / 1), LAPPS_BENCH_LAPPSD_PORT
# (the C lappsd's port with --lapps and --lua, default 5083), LAPPS_BENCH_LUA_PORT (the Lua
# lappsd's port with --lua, default 5283).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../common/lib.sh
. "$here/../common/lib.sh"

quick=0
tls=0
lapps=0
lua=0
lappsd=""
build="$repo/build"
rounds=""
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --tls) tls=1 ;;
    --lapps) lapps=1 ;;
    --lua) lua=1 ;;
    --lappsd) lappsd=${2:?--lappsd needs a path}; shift ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -h | --help) bench_usage "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ $((tls + lapps + lua)) -gt 1 ]; then
    echo "run.sh: --tls, --lapps and --lua are separate runs" >&2
    exit 2
fi
if [ "$tls" = 1 ] || [ "$lapps" = 1 ] || [ "$lua" = 1 ]; then
    combos="20:100:1 20:100:8 1024:100:1 1024:100:8"
    if [ "$quick" = 1 ]; then
        warm=1 dur=2 rounds=${rounds:-1}
        combos="1024:100:1 1024:100:8"
        [ "$lapps" = 1 ] || [ "$lua" = 1 ] && combos="20:100:1 20:100:8"
    else
        warm=1 dur=3 rounds=${rounds:-3}
    fi
    lappsd=${lappsd:-$build/cmd/lappsd/lappsd}
elif [ "$quick" = 1 ]; then
    warm=1 dur=2 rounds=${rounds:-1}
    combos="20:100:1 20:100:8 1024:1000:8 16384:100:8"
else
    warm=1 dur=3 rounds=${rounds:-3}
    combos=""
    for s in 20 1024 16384; do
        for c in 100 1000; do
            for k in 1 8; do combos="$combos $s:$c:$k"; done
        done
    done
fi
case "$rounds" in '' | *[!0-9]* | 0) echo "run.sh: bad --rounds '$rounds'" >&2; exit 2 ;; esac

loadgen="$build/bench/echo/loadgen"
bench_need_built "$loadgen"

bench_pick_cpus "server and load generator"
port0=${LAPPS_BENCH_PORT:-5091}
node_dir=${LAPPS_BENCH_NODE_DIR:-${TMPDIR:-/tmp}/lapps-bench-node}

bench_make_workdir lapps-echo
results="$work/results"
: >"$results"

# ---- servers ----------------------------------------------------------------------------

names=()   # server names, in table order
declare -A pid url mode log dead
declare -A ref # the server a row's 'x tcp' / 'x plain' ratio is taken against

bench_cleanup_on_exit 20 # 2 s for a server to close its connections before SIGKILL

# start NAME PORT MODE URL COMMAND...
start() {
    local name=$1 port=$2 m=$3 u=$4
    shift 4
    bench_start_server "$name" "$port" "$@" || return 0
    mode[$name]=$m url[$name]=$u dead[$name]=""
}

# also NAME MODE URL OF: another row measured on server OF's process (another service of it)
also() {
    local name=$1 m=$2 u=$3 of=$4
    [ -z "${pid[$of]:-}" ] && return
    names+=("$name")
    pid[$name]=${pid[$of]} mode[$name]=$m url[$name]=$u log[$name]=${log[$of]} dead[$name]=""
}

# The --tls, --lapps and --lua modes compare lappsd with itself: it must exist.
need_lappsd() {
    [ -x "$lappsd" ] && return 0
    echo "run.sh: lappsd '$lappsd' not found or not executable (--lappsd PATH)" >&2
    exit 1
}

if [ "$tls" = 1 ]; then
    # lappsd plain and TLS, each from its own ws.json with one worker
    need_lappsd
    command -v openssl >/dev/null || { echo "run.sh: --tls needs the openssl command" >&2; exit 1; }
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 -subj /CN=localhost \
        -addext "subjectAltName=IP:127.0.0.1" 2>"$work/openssl.log"; then
        echo "run.sh: making a self-signed certificate failed:" >&2
        cat "$work/openssl.log" >&2
        exit 1
    fi
    mkdir -p "$work/lappsd-plain" "$work/lappsd-tls"
    printf '{"ip":"127.0.0.1","port":5083,"workers":{"workers":1}}\n' >"$work/lappsd-plain/ws.json"
    printf '{"ip":"127.0.0.1","port":5443,"workers":{"workers":1},"tls":true,%s}\n' \
        "\"tls_certificates\":{\"cert\":\"$work/cert.pem\",\"key\":\"$work/key.pem\"}" \
        >"$work/lappsd-tls/ws.json"
    start lappsd 5083 ws "ws://127.0.0.1:5083/echo" "$lappsd" -c "$work/lappsd-plain"
    start lappsd-tls 5443 ws "wss://127.0.0.1:5443/echo" "$lappsd" -c "$work/lappsd-tls"
    ref[lappsd-tls]=lappsd
    if bench_node_ws; then
        p=$((port0 + 2))
        start node-ws "$p" ws "ws://127.0.0.1:$p/echo" \
            env NODE_PATH="$node_dir/node_modules" node "$repo/bench/peers/ws-echo.js" "$p"
        p=$((port0 + 3))
        start node-wss "$p" ws "wss://127.0.0.1:$p/echo" \
            env NODE_PATH="$node_dir/node_modules" node "$repo/bench/peers/ws-echo.js" "$p" \
            "$work/cert.pem" "$work/key.pem"
        ref[node-wss]=node-ws
    fi
    if [ -z "${pid[lappsd]:-}" ] || [ -z "${pid[lappsd-tls]:-}" ]; then
        echo "run.sh: --tls needs both lappsd servers running" >&2
        exit 1
    fi
elif [ "$lapps" = 1 ]; then
    # one lappsd, one worker: /echo (raw C echo) and /echo_lapps (LAppS protocol, C service)
    need_lappsd
    lp=${LAPPS_BENCH_LAPPSD_PORT:-5083}
    mkdir -p "$work/lappsd"
    printf '{"ip":"127.0.0.1","port":%s,"workers":{"workers":1}}\n' "$lp" >"$work/lappsd/ws.json"
    start lappsd "$lp" ws "ws://127.0.0.1:$lp/echo" "$lappsd" -c "$work/lappsd"
    if [ -z "${pid[lappsd]:-}" ]; then
        echo "run.sh: --lapps needs lappsd running (another port: LAPPS_BENCH_LAPPSD_PORT)" >&2
        exit 1
    fi
    also echo_lapps lapps "ws://127.0.0.1:$lp/echo_lapps" lappsd
    ref[echo_lapps]=lappsd
elif [ "$lua" = 1 ]; then
    # two lappsd processes, one worker each: the C services (no lapps.json) and the Lua ones
    need_lappsd
    lp=${LAPPS_BENCH_LAPPSD_PORT:-5083}
    luap=${LAPPS_BENCH_LUA_PORT:-5283}
    case "$here" in *[\\\"\|\&]*)
        echo "run.sh: --lua: the path $here has a character lapps.json cannot take here" >&2
        exit 1 ;;
    esac
    mkdir -p "$work/lappsd" "$work/lua"
    printf '{"ip":"127.0.0.1","port":%s,"workers":{"workers":1}}\n' "$lp" >"$work/lappsd/ws.json"
    printf '{"ip":"127.0.0.1","port":%s,"workers":{"workers":1}}\n' "$luap" >"$work/lua/ws.json"
    # bench/echo/lua/lapps.json with its applications directory made absolute (so neither
    # LAPPS_HOME nor the work directory matters)
    sed 's|"applications": *"apps"|"applications": "'"$here"'/lua/apps"|' "$here/lua/lapps.json" \
        >"$work/lua/lapps.json"
    if ! grep -q "\"$here/lua/apps\"" "$work/lua/lapps.json"; then
        echo "run.sh: could not set directories.applications in $work/lua/lapps.json" >&2
        exit 1
    fi
    start c-raw "$lp" ws "ws://127.0.0.1:$lp/echo" "$lappsd" -c "$work/lappsd"
    also c-lapps lapps "ws://127.0.0.1:$lp/echo_lapps" c-raw
    start lua-raw "$luap" ws "ws://127.0.0.1:$luap/echo" "$lappsd" -c "$work/lua"
    also lua-lapps lapps "ws://127.0.0.1:$luap/echo_lapps" lua-raw
    if [ -z "${pid[c-raw]:-}" ] || [ -z "${pid[lua-raw]:-}" ]; then
        echo "run.sh: --lua needs both lappsd processes running (other ports:" \
            "LAPPS_BENCH_LAPPSD_PORT, LAPPS_BENCH_LUA_PORT)" >&2
        exit 1
    fi
    ref[c-lapps]=c-raw ref[lua-raw]=c-raw ref[lua-lapps]=c-raw
else

start tcp-echo "$port0" raw "127.0.0.1:$port0" "$build/bench/peers/tcp-echo" "$port0"

if [ -n "$lappsd" ]; then
    if [ -x "$lappsd" ]; then
        start lappsd 5083 ws "ws://127.0.0.1:5083/echo" "$lappsd"
    else
        echo "run.sh: lappsd '$lappsd' not found or not executable: skipped" >&2
    fi
fi

if [ -x "$build/bench/peers/lws-echo" ]; then
    p=$((port0 + 1))
    start lws-echo "$p" ws "ws://127.0.0.1:$p/echo" "$build/bench/peers/lws-echo" "$p"
else
    echo "run.sh: lws-echo not built (libwebsockets-dev missing?): skipped" >&2
fi

if bench_node_ws; then
    p=$((port0 + 2))
    start node-ws "$p" ws "ws://127.0.0.1:$p/echo" \
        env NODE_PATH="$node_dir/node_modules" node "$repo/bench/peers/ws-echo.js" "$p"
fi
for n in "${names[@]}"; do ref[$n]=tcp-echo; done

fi # --tls / --lapps / --lua

if [ "${#names[@]}" -eq 0 ]; then
    echo "run.sh: no server started" >&2
    exit 1
fi

# ---- runs -------------------------------------------------------------------------------

ncombos=$(echo $combos | wc -w)
nruns=$((ncombos * ${#names[@]} * rounds))
loadavg0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "echo benchmark: ${names[*]}; $ncombos combinations x $rounds round(s), ${warm} s warm-up +" \
    "${dur} s each ($nruns runs); servers on CPU $server_cpu, loadgen on CPU $client_cpu" >&2

run=0
for ((r = 1; r <= rounds; r++)); do
    for combo in $combos; do
        IFS=: read -r size conns k <<<"$combo"
        # rotate the order of the servers from combination to combination and round to round
        n=${#names[@]}
        off=$(((run / n + r) % n))
        for ((i = 0; i < n; i++)); do
            name=${names[$(((i + off) % n))]}
            run=$((run + 1))
            [ -n "${dead[$name]}" ] && continue
            if ! bench_server_alive "$name"; then
                dead[$name]=1
                continue
            fi
            args=(-c "$conns" -k "$k" -s "$size" -w "$warm" -d "$dur" -p "${pid[$name]}" --json)
            [ "${mode[$name]}" = raw ] && args+=(--raw)
            [ "${mode[$name]}" = lapps ] && args+=(--lapps)
            out=$(taskset -c "$client_cpu" timeout 120 "$loadgen" "${args[@]}" "${url[$name]}" \
                2>"$work/err")
            rc=$?
            if [ $rc -eq 0 ] && [ -n "$out" ]; then
                echo "$name $r $size $conns $k $out" >>"$results"
                rate=$(echo "$out" | sed -n 's/.*"msgs_per_s":\([0-9.]*\).*/\1/p')
                printf '[%d/%d] round %d %-9s %6s B c=%-4s k=%s %10s msg/s\n' "$run" "$nruns" "$r" \
                    "$name" "$size" "$conns" "$k" "$rate" >&2
            else
                echo "$name $r $size $conns $k FAIL" >>"$results"
                printf '[%d/%d] round %d %-9s %6s B c=%-4s k=%s FAILED (rc %d): %s\n' "$run" "$nruns" \
                    "$r" "$name" "$size" "$conns" "$k" "$rc" "$(tail -1 "$work/err")" >&2
            fi
            bench_show_notes loadgen "$name" "$work/err"
        done
    done
done
loadavg1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- table ------------------------------------------------------------------------------

versions=$(bench_system_versions)
[ -n "$(pkg-config --modversion libwebsockets 2>/dev/null)" ] &&
    versions="$versions, libwebsockets $(pkg-config --modversion libwebsockets)"
versions="$versions$(bench_node_versions)"
if [ "$tls" = 1 ]; then
    # what the TLS runs negotiated (loadgen reports it: protocol/cipher)
    negotiated=$(sed -n 's/.*"tls":"\([^"]*\)".*/\1/p' "$results" | sort -u | paste -sd' ')
    versions="$versions, $(openssl version | cut -d' ' -f1-2), negotiated ${negotiated:-?}"
fi
refs=""
for n in "${names[@]}"; do [ -n "${ref[$n]:-}" ] && refs="$refs $n=${ref[$n]}"; done

echo
echo "Echo benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'): median of $rounds round(s), ${dur} s window" \
    "after ${warm} s warm-up"
echo "$versions; load average before $loadavg0, after $loadavg1"
if [ "$lua" = 1 ]; then
    xcol="x c-raw"
    echo "server CPU $server_cpu, loadgen CPU $client_cpu; two lappsd processes (1 worker each): C services" \
        "(c-raw, c-lapps) and Lua services (lua-raw, lua-lapps); 'x c-raw' = msgs/s relative to c-raw" \
        "in the same round"
elif [ "$lapps" = 1 ]; then
    xcol="x raw"
    echo "server CPU $server_cpu, loadgen CPU $client_cpu; one lappsd process (1 worker) serves both rows;" \
        "'x raw' = echo_lapps msgs/s relative to /echo in the same round"
elif [ "$tls" = 1 ]; then
    xcol="x plain"
    echo "server CPU $server_cpu, loadgen CPU $client_cpu; 'x plain' = a TLS server's msgs/s relative to" \
        "the same server over ws:// in the same round"
else
    xcol="x tcp"
    echo "server CPU $server_cpu, loadgen CPU $client_cpu; 'x tcp' = msgs/s relative to tcp-echo in the same round"
fi
echo
pairs=""
[ "$lua" = 1 ] && pairs="lua-raw:c-raw lua-lapps:c-raw lua-lapps:c-lapps"
awk -v order="${names[*]}" -v combos="$combos" -v refs="$refs" -v xcol="$xcol" -v tls="$tls" \
    -v lapps="$lapps" -v pairs="$pairs" "$BENCH_AWK_MEDIAN"'
function rounded(list,    a, n, i, out) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) out = out sprintf(" %.2f", a[i])
    return out
}
function human(b) {
    if (b >= 1024 && b % 1024 == 0) return (b / 1024) " KiB"
    return b " B"
}
{
    key = $1 SUBSEP $3 SUBSEP $4 SUBSEP $5
    if ($6 == "FAIL") { fails[key]++; next }
    s = $6; gsub(/[{}"]/, "", s)
    n = split(s, kv, ",")
    delete f
    for (i = 1; i <= n; i++) { split(kv[i], p, ":"); f[p[1]] = p[2] }
    runs[key]++
    add(key SUBSEP "rate", f["msgs_per_s"])
    add(key SUBSEP "p50", f["p50_us"])
    add(key SUBSEP "p99", f["p99_us"])
    add(key SUBSEP "user", f["user_us_per_msg"])
    add(key SUBSEP "sys", f["sys_us_per_msg"])
    add(key SUBSEP "tx", f["tx_MBps"])
    add(key SUBSEP "rx", f["rx_MBps"])
    add(key SUBSEP "lg", f["loadgen_cpu_pct"])
    rate[$1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5] = f["msgs_per_s"]
    ucpu[$1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5] = f["user_us_per_msg"]
    scpu[$1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5] = f["sys_us_per_msg"]
    if ($2 + 0 > maxr) maxr = $2 + 0
}
END {
    ns = split(order, srv, " ")
    nc = split(combos, cmb, " ")
    nr = split(refs, rr, " ")
    for (i = 1; i <= nr; i++) { split(rr[i], p, "="); refof[p[1]] = p[2] }
    hdr = sprintf("%-8s %5s %2s  %-10s %9s %7s %9s %9s %8s %8s %15s %4s", "payload", "conns", "k",
                  "server", "msgs/s", xcol, "p50 us", "p99 us", "user us", "sys us",
                  "MB/s tx/rx", "lg%")
    print hdr
    print sprintf("%-8s %5s %2s  %-10s %9s %7s %9s %9s %8s %8s %15s %4s", "", "", "", "", "", "",
                  "", "", "/msg", "/msg", "(wire)", "")
    for (c = 1; c <= nc; c++) {
        split(cmb[c], q, ":")
        for (i = 1; i <= ns; i++) {
            name = srv[i]
            key = name SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
            if (!(key in runs)) {
                printf "%-8s %5s %2s  %-10s %9s\n", human(q[1]), q[2], q[3], name, "FAILED"
                continue
            }
            # ratio: per round against the reference server (tcp-echo, or with --tls the
            # same server over ws://) in the same round, then the median
            ratios = ""
            for (r = 1; r <= maxr && (name in refof); r++) {
                a = name SUBSEP r SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
                b = refof[name] SUBSEP r SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
                if ((a in rate) && (b in rate) && rate[b] > 0)
                    ratios = ratios " " (rate[a] / rate[b])
            }
            ratio = median(ratios)
            if (ratio != "" && lapps) {
                # the protocol cost per request: user (and user+sys) CPU per message of the
                # LAppS row minus the raw row, per round, then the median
                dus = ""; dts = ""
                for (r = 1; r <= maxr; r++) {
                    a = name SUBSEP r SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
                    b = refof[name] SUBSEP r SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
                    if ((a in ucpu) && (b in ucpu)) {
                        dus = dus " " (ucpu[a] - ucpu[b])
                        dts = dts " " (ucpu[a] + scpu[a] - ucpu[b] - scpu[b])
                    }
                }
                rk = refof[name] SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
                cpu = median(vals[key SUBSEP "user"]) + median(vals[key SUBSEP "sys"])
                cpu_ref = median(vals[rk SUBSEP "user"]) + median(vals[rk SUBSEP "sys"])
                summary = summary sprintf("  %6s k=%s: x raw %.2f (rounds:%s); user us/msg %.2f -> %.2f," \
                                          " %+.2f (rounds:%s);", human(q[1]), q[3], ratio,
                                          rounded(ratios), median(vals[rk SUBSEP "user"]),
                                          median(vals[key SUBSEP "user"]), median(dus), rounded(dus))
                summary = summary sprintf(" user+sys %.2f -> %.2f (%+.2f): %s\n", cpu_ref, cpu,
                                          median(dts), cpu > 0 ? sprintf("%.2f", cpu_ref / cpu) : "-")
            }
            if (ratio != "" && tls) {
                # the same question asked of the server CPU: plain us/msg over TLS us/msg
                # (what the ratio would be with the server the only bottleneck)
                rk = refof[name] SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
                cpu = median(vals[key SUBSEP "user"]) + median(vals[key SUBSEP "sys"])
                cpu_ref = median(vals[rk SUBSEP "user"]) + median(vals[rk SUBSEP "sys"])
                summary = summary sprintf("  %-10s / %-7s %6s k=%s: %.2f (rounds:%s);", name,
                                          refof[name], human(q[1]), q[3], ratio, rounded(ratios))
                summary = summary sprintf(" server CPU/msg %.2f -> %.2f us: %s\n", cpu_ref, cpu,
                                          cpu > 0 ? sprintf("%.2f", cpu_ref / cpu) : "-")
            }
            note = (key in fails) ? sprintf("  (%d failed)", fails[key]) : ""
            printf "%-8s %5s %2s  %-10s %9.0f %7s %9.0f %9.0f %8.2f %8.2f %15s %4.0f%s\n",
                human(q[1]), q[2], q[3], name, median(vals[key SUBSEP "rate"]),
                ratio == "" ? "-" : sprintf("%.2f", ratio),
                median(vals[key SUBSEP "p50"]), median(vals[key SUBSEP "p99"]),
                median(vals[key SUBSEP "user"]), median(vals[key SUBSEP "sys"]),
                sprintf("%.1f/%.1f", median(vals[key SUBSEP "tx"]), median(vals[key SUBSEP "rx"])),
                median(vals[key SUBSEP "lg"]), note
        }
    }
    # --lua: each pair a:b per combination: msgs/s a over b per round (median), user us/msg
    # of both and the median of the per-round differences, user+sys of both and the quotient
    np = split(pairs, pr, " ")
    for (c = 1; c <= nc && np; c++) {
        split(cmb[c], q, ":")
        for (j = 1; j <= np; j++) {
            split(pr[j], ab, ":")
            ka = ab[1] SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
            kb = ab[2] SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
            if (!(ka in runs) || !(kb in runs)) {
                pairsum = pairsum sprintf("  %6s k=%s: %-9s / %-7s -\n", human(q[1]), q[3], ab[1], ab[2])
                continue
            }
            ratios = ""; dus = ""
            for (r = 1; r <= maxr; r++) {
                a = ab[1] SUBSEP r SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
                b = ab[2] SUBSEP r SUBSEP q[1] SUBSEP q[2] SUBSEP q[3]
                if ((a in rate) && (b in rate) && rate[b] > 0) {
                    ratios = ratios " " (rate[a] / rate[b])
                    dus = dus " " (ucpu[a] - ucpu[b])
                }
            }
            ua = median(vals[ka SUBSEP "user"]); ub = median(vals[kb SUBSEP "user"])
            ta = ua + median(vals[ka SUBSEP "sys"]); tb = ub + median(vals[kb SUBSEP "sys"])
            pairsum = pairsum sprintf("  %6s k=%s: %-9s / %-7s %.2f (rounds:%s); user us/msg %.2f -> %.2f" \
                                      " (%+.2f); user+sys %.2f -> %.2f: %s\n", human(q[1]), q[3],
                                      ab[1], ab[2], median(ratios), rounded(ratios), ub, ua,
                                      median(dus), tb, ta, ta > 0 ? sprintf("%.2f", tb / ta) : "-")
        }
    }
    if (pairsum != "") {
        print ""
        print "Lua against C: msgs/s of the first row over the second (median of the per-round ratios),"
        print "the server user CPU per message second -> first row (median of the per-round differences),"
        print "then user+sys us/msg and their quotient: the ratio to expect where the server alone is the"
        print "bottleneck. The issue asks lua-raw / c-raw >= 0.9 with <= 0.6 user us/msg, and"
        print "lua-lapps / c-raw >= 0.8 with <= 2.5 user us per request:"
        printf "%s", pairsum
    }
    if (summary != "" && lapps) {
        print ""
        print "echo_lapps / raw /echo msgs/s (median of the per-round ratios; the issue asks >= 0.9 at"
        print "small payloads), then the server user CPU per message /echo -> echo_lapps and the difference"
        print "(the LAppS protocol per request: decode, validate, dispatch, encode; the issue asks <= 0.6 us),"
        print "then user+sys us/msg /echo -> echo_lapps (difference) and their quotient: the ratio to"
        print "expect where the server alone is the bottleneck:"
        printf "%s", summary
    } else if (summary != "") {
        print ""
        print "TLS / plain msgs/s (median of the per-round ratios; the issue asks >= 0.8 at 1 KiB),"
        print "then the server user+sys CPU per message, plain -> TLS, and their ratio:"
        printf "%s", summary
    }
}' "$results"

if grep -q ' FAIL$' "$results"; then
    echo
    echo "Some runs failed; see the messages above."
    exit 1
fi
