#!/usr/bin/env bash
# End to end: BINARY --demo scraped every second over TLS with basic auth (a
# certificate made here with openssl, a bcrypt hash made with htpasswd) by a real
# Prometheus (Debian's 2.42) that loads deploy/prometheus/rules. Passes when the
# target is up, Prometheus has cdb_rollback_job_state series and the alert
# CdbRollbackFailed is pending or firing, with every rule evaluating without error.
# Usage: .ci/e2e-prometheus.sh BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

bin=${1:?usage: .ci/e2e-prometheus.sh BINARY}
[ -x "$bin" ] || die "$bin is not an executable"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
need_prometheus
need_apt htpasswd apache2-utils
command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the test certificate"
timeout_s=${E2E_TIMEOUT:-120}

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  log "exporter log (last 30 lines):"
  tail -n 30 "$tmp/exporter.log" >&2 || true
  log "prometheus log (last 30 lines):"
  tail -n 30 "$tmp/prometheus.log" >&2 || true
  if [ -n "${prom:-}" ]; then
    log "prometheus targets:"
    curl -fsS --max-time 5 "$prom/api/v1/targets" >&2 || true
    log "prometheus alerts:"
    curl -fsS --max-time 5 "$prom/api/v1/alerts" >&2 || true
    echo >&2
  fi
  die "e2e-prometheus: $*"
}

# TLS and basic auth as a user would set them up: a self-signed certificate for
# 127.0.0.1 and a bcrypt hash in the web config; Prometheus reads the password from a file.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null || die "openssl could not make a certificate"
password=$(head -c 18 /dev/urandom | base64)
printf '%s' "$password" >"$tmp/password"
hash=$(htpasswd -nbBC 10 "" "$password" | tr -d ':\n')
cat >"$tmp/web.yml" <<YAML
tls_server_config:
  cert_file: tls.crt
  key_file: tls.key
basic_auth_users:
  prometheus: '$hash'
YAML

exp_port=$(free_port)
exp=https://127.0.0.1:$exp_port
log "starting $bin --demo on $exp with TLS and basic auth"
"$bin" --demo --web.listen-address="127.0.0.1:$exp_port" --web.config.file="$tmp/web.yml" \
  >"$tmp/exporter.log" 2>&1 &
pids+=("$!")
wait_http "$exp/-/healthy" 30 "${pids[0]}" --cacert "$tmp/tls.crt" -u "prometheus:$password" \
  || fail "the exporter did not come up"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$tmp/tls.crt" "$exp/metrics") || true
[ "$code" = 401 ] || fail "a scrape without a password got $code, not 401"

cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/deploy/prometheus/rules/*.yml
scrape_configs:
  - job_name: cdb-rollback-exporter
    scheme: https
    tls_config:
      ca_file: $tmp/tls.crt
    basic_auth:
      username: prometheus
      password_file: $tmp/password
    static_configs:
      - targets: ["127.0.0.1:$exp_port"]
YAML
promtool check config "$tmp/prometheus.yml" >/dev/null || fail "generated prometheus.yml is invalid"

prom_port=$(free_port)
prom=http://127.0.0.1:$prom_port
log "starting prometheus on 127.0.0.1:$prom_port"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
pids+=("$!")
wait_http "$prom/-/ready" 60 "${pids[1]}" || fail "prometheus did not become ready"

# Prints a one-line summary and exits 0 once the condition holds.
check_state() {
  python3 - "$tmp/series.json" "$tmp/alerts.json" "$tmp/rules.json" <<'PY'
import json, sys
series = json.load(open(sys.argv[1]))["data"]["result"]
alerts = json.load(open(sys.argv[2]))["data"]["alerts"]
groups = json.load(open(sys.argv[3]))["data"]["groups"]
bad = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r.get("health") == "err"]
if bad:
    print("RULE ERRORS: " + "; ".join(f"{n}: {e}" for n, e in bad))
    sys.exit(3)
failed = [a for a in alerts if a["labels"].get("alertname") == "CdbRollbackFailed"
          and a["state"] in ("pending", "firing")]
print(f"{len(series)} cdb_rollback_job_state series, {len(failed)} CdbRollbackFailed alert(s)")
if series and failed:
    print(json.dumps(failed, indent=2))
    sys.exit(0)
sys.exit(1)
PY
}

deadline=$((SECONDS + timeout_s))
while :; do
  for i in 0 1; do
    kill -0 "${pids[$i]}" 2>/dev/null || fail "$([ "$i" = 0 ] && echo exporter || echo prometheus) exited"
  done
  curl -fsS --max-time 5 -G "$prom/api/v1/query" --data-urlencode 'query=cdb_rollback_job_state' \
    -o "$tmp/series.json" || fail "query API failed"
  curl -fsS --max-time 5 "$prom/api/v1/alerts" -o "$tmp/alerts.json" || fail "alerts API failed"
  curl -fsS --max-time 5 "$prom/api/v1/rules" -o "$tmp/rules.json" || fail "rules API failed"
  rc=0
  out=$(check_state) || rc=$?
  case $rc in
    0) break ;;
    3) fail "$out" ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || fail "no CdbRollbackFailed alert within ${timeout_s}s (last: $out)"
  sleep 2
done

printf '%s\n' "$out"
curl -fsS --max-time 5 -G "$prom/api/v1/query" --data-urlencode 'query=up{job="cdb-rollback-exporter"}' \
  | grep -q '"value":\[[0-9.]*,"1"\]' || fail "the exporter target is not up"
log "e2e-prometheus: OK (Prometheus $(prometheus --version 2>&1 | head -n1 | cut -d' ' -f3), ${SECONDS}s)"
