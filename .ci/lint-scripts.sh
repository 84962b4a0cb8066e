#!/usr/bin/env bash
# Runs shellcheck on the helper scripts in .ci/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

need_apt shellcheck shellcheck
log "$(shellcheck --version | sed -n 2p)"
shellcheck -x .ci/*.sh
log "shellcheck: no findings"
