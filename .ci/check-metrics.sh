#!/usr/bin/env bash
# Runs BINARY --demo, waits until /metrics shows every family of the contract
# (.ci/metrics-contract.txt), then checks the scrape with `promtool check metrics`
# and .ci/check-exposition.py. Any complaint fails.
# Usage: .ci/check-metrics.sh BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

bin=${1:?usage: .ci/check-metrics.sh BINARY}
[ -x "$bin" ] || die "$bin is not an executable"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
need_prometheus

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  log "exporter log (last 40 lines):"
  tail -n 40 "$tmp/exporter.log" >&2 || true
  die "$*"
}

port=$(free_port)
base=http://127.0.0.1:$port
log "starting $bin --demo on 127.0.0.1:$port"
"$bin" --demo --web.listen-address="127.0.0.1:$port" >"$tmp/exporter.log" 2>&1 &
pid=$!
wait_http "$base/-/healthy" 30 "$pid" || fail "/-/healthy did not answer within 30s"

# The demo's story needs a few polls before every family (end times, a failure) shows.
deadline=$((SECONDS + 60))
while :; do
  kill -0 "$pid" 2>/dev/null || fail "the exporter exited"
  curl -fsS --max-time 5 -D "$tmp/headers" -o "$tmp/metrics" "$base/metrics" || fail "GET /metrics failed"
  rc=0
  python3 .ci/check-exposition.py "$tmp/metrics" 2>"$tmp/contract" || rc=$?
  [ "$rc" -eq 2 ] || break
  [ "$SECONDS" -lt "$deadline" ] || break
  sleep 2
done
cat "$tmp/contract" >&2
[ "$rc" -eq 0 ] || fail "the /metrics exposition breaks the contract (see above)"

ctype=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^[Cc]ontent-[Tt]ype: *//p' | tail -n1)
case "$ctype" in
  "text/plain; version=0.0.4"*) ;;
  *) fail "/metrics Content-Type is '$ctype', want text/plain; version=0.0.4; charset=utf-8" ;;
esac

log "promtool check metrics"
lint=$(promtool check metrics <"$tmp/metrics" 2>&1) || true
if [ -n "$lint" ]; then
  printf '%s\n' "$lint" >&2
  fail "promtool check metrics complained"
fi

curl -fsS --max-time 5 "$base/-/ready" >/dev/null || fail "/-/ready is not 200 after the demo produced data"
curl -fsS --max-time 5 "$base/" | grep -Eq "href=[\"']?/?metrics" || fail "the landing page / does not link to /metrics"

log "metrics: $(grep -c '^cdb_rollback_' "$tmp/metrics") cdb_rollback_ samples, Content-Type '$ctype', no complaints"
