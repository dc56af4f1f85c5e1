# shellcheck shell=bash
# lib.sh — shell functions shared by the benchmark drivers (bench/echo/run.sh,
# bench/bcast/run.sh). Sourced, never run: `. "$here/../common/lib.sh"`.
#
# Both drivers start each server once, pinned to one core, measure every server with a
# client pinned to another, and must stop every server they started (by PID, also on
# Ctrl-C) whatever happens. Doing that the same way in both keeps their figures
# comparable and their cleanup equally safe.
#
# The functions work on the driver's globals, which the driver sets before calling them:
#   keep, work       --keep DIR (or empty) and the work directory (bench_make_workdir)
#   server_cpu       the core the servers run on (bench_pick_cpus)
#   names            array: the rows of the table, in order (bench_start_server appends)
#   pid, log         associative arrays by name: server PID and log file
#   node_dir         a directory whose node_modules has (or will get) `ws`
# Messages go to stderr, prefixed "run.sh:", as the drivers' own.
#
# shellcheck disable=SC2034,SC2154 # the globals above: set here for the driver, or by it
# shellcheck disable=SC2004 # pid and log are associative: their keys need the $

# The help text: the script's leading comment, from line 2 to `set -u`.
bench_usage() {
    sed -n '2,/^set -u/p' "$1" | sed '$d; s/^# \{0,1\}//'
}

# bench_pick_cpus WHO: server_cpu and client_cpu from LAPPS_BENCH_SERVER_CPU /
# LAPPS_BENCH_CLIENT_CPU (default 0 / 1); on a single CPU both share it, and a warning
# says that WHO ("servers and client", ...) do.
bench_pick_cpus() {
    server_cpu=${LAPPS_BENCH_SERVER_CPU:-0}
    client_cpu=${LAPPS_BENCH_CLIENT_CPU:-1}
    if [ "$(nproc)" -lt 2 ]; then
        echo "run.sh: fewer than 2 CPUs: $1 share one" >&2
        client_cpu=$server_cpu
    fi
}

# bench_need_built FILE...: exits 1, saying how to build, unless every FILE is executable.
bench_need_built() {
    local f
    for f in "$@"; do
        if [ ! -x "$f" ]; then
            echo "run.sh: $f not found; build first:" >&2
            echo "  meson setup build && ninja -C build   (or --build DIR)" >&2
            exit 1
        fi
    done
}

# bench_make_workdir PREFIX: work = the --keep directory (created; kept afterwards) or a
# fresh ${TMPDIR:-/tmp}/PREFIX.XXXXXX (removed on exit).
bench_make_workdir() {
    if [ -n "$keep" ]; then
        mkdir -p "$keep" && work=$(cd "$keep" && pwd) || exit 1
    else
        work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
    fi
}

# bench_stop_servers TENTHS: SIGTERM to every server started, then SIGKILL to any still
# running after TENTHS tenths of a second (a server closing 10 000 connections needs
# longer than one closing 100). Only the PIDs this script started are signalled.
bench_stop_servers() {
    local n p
    for n in "${names[@]}"; do
        p=${pid[$n]:-}
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    for n in "${names[@]}"; do
        p=${pid[$n]:-}
        [ -z "$p" ] && continue
        for _ in $(seq "$1"); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}

# bench_cleanup_on_exit TENTHS: whenever the script ends (also on Ctrl-C or a signal),
# stop the servers (bench_stop_servers TENTHS) and remove the work directory unless it is
# the --keep one.
bench_cleanup_on_exit() {
    # shellcheck disable=SC2064 # TENTHS is fixed now, on purpose
    trap "bench_stop_servers $1; [ -z \"\$keep\" ] && rm -rf \"\$work\"" EXIT
    trap 'exit 130' INT TERM HUP PIPE
}

# bench_port_open PORT: true if something accepts connections on 127.0.0.1:PORT.
bench_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# bench_start_server NAME PORT COMMAND...: runs COMMAND pinned to server_cpu, its output
# in $work/NAME.log, and waits up to 10 s for it to listen on PORT. On success NAME is
# appended to names with pid[NAME] and log[NAME]; otherwise (the port already taken, or
# the server exited or never listened) it says why and returns 1: the server is skipped,
# the benchmark goes on with the others.
bench_start_server() {
    local name=$1 port=$2
    shift 2
    if bench_port_open "$port"; then
        echo "run.sh: port $port is already in use: skipping $name" >&2
        return 1
    fi
    log[$name]="$work/$name.log"
    taskset -c "$server_cpu" "$@" >"${log[$name]}" 2>&1 &
    local p=$!
    for _ in $(seq 100); do
        bench_port_open "$port" && break
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$p" 2>/dev/null || ! bench_port_open "$port"; then
        echo "run.sh: $name did not start listening on port $port; skipped. Its log:" >&2
        tail -5 "${log[$name]}" >&2
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        return 1
    fi
    names+=("$name")
    pid[$name]=$p
}

# bench_server_alive NAME: true while NAME's process runs; otherwise says so (once per
# call) and returns 1, so that a crashed server fails its runs instead of being measured.
bench_server_alive() {
    kill -0 "${pid[$1]}" 2>/dev/null && return 0
    echo "run.sh: $1 (PID ${pid[$1]}) has exited; see ${log[$1]}" >&2
    return 1
}

# bench_show_notes PROG NAME FILE: the "PROG: note: ..." lines of a client's stderr FILE
# (a connection that did not close cleanly, ...), indented and labelled with the server.
bench_show_notes() {
    grep -h "^$1: note" "$3" | sed "s/^/    $2: /" >&2
}

# bench_node_ws: installs ws@8 into $node_dir if needed (npm, outside the repository);
# true when node and ws are usable.
bench_node_ws() {
    command -v node >/dev/null || { echo "run.sh: node not found: node ws skipped" >&2; return 1; }
    if [ ! -f "$node_dir/node_modules/ws/package.json" ]; then
        echo "run.sh: installing ws@8 into $node_dir" >&2
        mkdir -p "$node_dir"
        timeout 300 npm install --no-save --no-audit --no-fund --prefix "$node_dir" ws@8 >&2 ||
            echo "run.sh: npm install ws@8 failed" >&2
    fi
    [ -f "$node_dir/node_modules/ws/package.json" ] && return 0
    echo "run.sh: node ws not available: skipped" >&2
    return 1
}

# What the table's figures depend on, for its heading: "kernel ..., USER_HZ ..." (the
# unit of the server CPU figures, /proc/PID/stat ticks).
bench_system_versions() {
    echo "kernel $(uname -r), USER_HZ $(getconf CLK_TCK)"
}

# ", node vX, ws Y" when node and ws are there, else nothing.
bench_node_versions() {
    command -v node >/dev/null && [ -f "$node_dir/node_modules/ws/package.json" ] &&
        echo ", node $(node --version), ws $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
            "$node_dir/node_modules/ws/package.json")"
    return 0
}

# awk functions for the tables, to put in front of an awk program:
# awk "$BENCH_AWK_MEDIAN"'...'.
#   add(key, v)     appends v to the space-separated list vals[key]
#   median(list)    the median of a space-separated list of numbers ("" if empty)
# shellcheck disable=SC2034 # used by the drivers
BENCH_AWK_MEDIAN='
function median(list,    a, n, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) {          # insertion sort, numeric
        t = a[i] + 0
        for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    if (n % 2) return a[(n + 1) / 2]
    return (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { vals[key] = (key in vals) ? vals[key] " " v : v }
'
