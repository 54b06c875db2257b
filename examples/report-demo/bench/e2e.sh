#!/usr/bin/env bash
# The demo's end-to-end rate, HTTP POST -> row in SQLite, in one mode (jetstream or core; the embedded
# server either way):
# starts `report-demo all` (release build) in a fresh temp dir on free ports, drives
# POST /v1/report with wrk for DURATION, then waits until the saver has saved every report the
# API accepted and prints one line: mode, requests/s, accepted, saved, seconds until all saved.
#   examples/report-demo/bench/e2e.sh jetstream 10s
set -euo pipefail
mode=${1:?usage: e2e.sh jetstream|core [DURATION]}
duration=${2:-10s}
root=$(cd "$(dirname "$0")/../../.." && pwd)
demo="$root/target/release/report-demo"
[ -x "$demo" ] || { echo "build it first: cargo build --release -p report-demo" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dir=$(mktemp -d)
http=$(free_port); stats=$(free_port)
cd "$dir"
REPORT_DATA_NATS_MODE=$mode REPORT_SERVER_HTTP_ADDR=127.0.0.1:$http \
  REPORT_SERVER_STATS_ADDR=127.0.0.1:$stats "$demo" all --nats-port 0 >demo.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$stats/v1/stats" >/dev/null &&
    curl -sf "http://127.0.0.1:$http/v1/stats" >/dev/null && break
  sleep 0.1
done
start=$(date +%s.%N)
rps=$(wrk -t2 -c64 -d"$duration" -s "$root/examples/report-demo/bench/report.lua" \
  "http://127.0.0.1:$http/v1/report" | awk '/Requests\/sec/ {print $2}')
# Reports the API accepted (its own counter) and rows in the database (counted by SQLite).
counts() {
  local accepted rows
  accepted=$(curl -sf "http://127.0.0.1:$http/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["published"])')
  rows=$(curl -sf "http://127.0.0.1:$stats/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"]["event_reports"])')
  echo "$accepted $rows"
}
read -r published saved < <(counts)
deadline=$(( $(date +%s) + 120 ))
while [ "$saved" -lt "$published" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 0.1
  read -r published saved < <(counts)
done
end=$(date +%s.%N)
# Once all are saved, read both again: the API counts a report after its reply, so a row can
# be counted before the report that made it.
read -r published saved < <(counts)
echo "$mode requests/s=$rps accepted=$published saved=$saved all_saved_after_s=$(echo "$end - $start" | bc)"
[ "$saved" -eq "$published" ]
