#!/usr/bin/env bash
# Start the development processes together; Ctrl-C stops them all.
set -euo pipefail
FLASK=${FLASK:-".venv/bin/flask --app wsgi"}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
# Links in emails must reach this server, whatever port it runs on.
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$HOST:$PORT}
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

$FLASK devmail serve &
pids+=($!)
# The delivery engine: one sender worker and the scheduler (due campaigns, digests, recovery).
$FLASK delivery worker --name dev-worker &
pids+=($!)
$FLASK scheduler --name dev-scheduler &
pids+=($!)
echo "Outreach on http://$HOST:$PORT (development mail at http://$HOST:$PORT/dev/mail)"
$FLASK run --host "$HOST" --port "$PORT" &
pids+=($!)
wait -n
