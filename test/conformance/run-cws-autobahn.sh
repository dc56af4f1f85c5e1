#!/bin/sh
# Runs the Autobahn TestSuite's fuzzing server (sections 1-10) against the cws client:
# lappsd serves the standalone service in cws/ that plays every case as an echo client.
# Not part of CI (the suite is not in the project): ../../../shared/conformance/README.md
# says how to get it; this expects it unpacked in /tmp/ats.
#   test/conformance/run-cws-autobahn.sh [BUILD_DIR]   (default: build)
# Prints the summary of reports/clients/index.json (kept in a scratch directory).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
shared=$(cd "$root/../shared/conformance" && pwd)
work=$(mktemp -d /tmp/cws-autobahn.XXXXXX)
cat > "$work/fuzzingserver.json" <<JSON
{"url": "ws://127.0.0.1:9031", "outdir": "./reports/clients", "cases": ["*"],
 "exclude-cases": ["12.*", "13.*"], "exclude-agent-cases": {}}
JSON
cd "$work"
PYTHONPATH=/tmp/ats/autobahntestsuite /usr/bin/python3 "$shared/wstest-py3" -m fuzzingserver \
    -s fuzzingserver.json > wstest.log 2>&1 &
wstest=$!
lappsd=""
trap 'kill $wstest ${lappsd:+$lappsd} 2>/dev/null || true' EXIT
sleep 3
"$root/$build/cmd/lappsd/lappsd" -c "$here/cws" > lappsd.log 2>&1 &
lappsd=$!
for _ in $(seq 600); do
    grep -q "all done" lappsd.log && break
    sleep 1
done
"$shared/summarize" reports/clients/index.json
echo "reports and logs: $work"
