#!/usr/bin/env bash
# Checks the Prometheus configs and rules, runs the rule unit tests, and checks
# that every PromQL query of the Grafana dashboard parses.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

need_prometheus
log "$(promtool --version 2>&1 | head -n1)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

promtool check rules deploy/prometheus/rules/*.yml
promtool test rules deploy/prometheus/tests/*.test.yml
promtool check config deploy/prometheus/prometheus.yml

# The compose config names container paths; check a copy pointing at the repo.
mkdir -p "$tmp/compose"
sed "s#/etc/prometheus/rules/#$PWD/deploy/prometheus/rules/#" \
  deploy/prometheus/prometheus.compose.yml >"$tmp/compose/prometheus.yml"
promtool check config "$tmp/compose/prometheus.yml"

python3 .ci/check-queries.py
