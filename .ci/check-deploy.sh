#!/usr/bin/env bash
# Runs every deploy/ check and prints a one-line tally; exits 1 if any failed.
# Usage: .ci/check-deploy.sh [BINARY]
#   without BINARY: shellcheck, hadolint, promtool rules/tests, manifests;
#   with BINARY (a built cdb-rollback-exporter): also check-config on the
#   ConfigMap, check-metrics and e2e-prometheus against its --demo.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

bin=${1:-}
checks=(
  ".ci/lint-scripts.sh"
  ".ci/lint-dockerfile.sh"
  ".ci/test-rules.sh"
  ".ci/validate-manifests.sh $bin"
)
if [ -n "$bin" ]; then
  checks+=(".ci/check-metrics.sh $bin" ".ci/e2e-prometheus.sh $bin")
fi

passed=0 failed=0 failures=()
for c in "${checks[@]}"; do
  printf '\n##### %s\n' "$c"
  # Word splitting of "script [arg]" is intended.
  # shellcheck disable=SC2086
  if bash $c; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$c")
  fi
done
echo
for c in "${failures[@]}"; do echo "FAILED: $c"; done
echo "deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
