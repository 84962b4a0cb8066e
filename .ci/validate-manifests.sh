#!/usr/bin/env bash
# Validates deploy/kubernetes and its overlays (-pod-identity, -tmp) and deploy/docker-compose.yml, offline.
#   core kinds: strict Kubernetes OpenAPI schemas (kubernetes-validate, bundled);
#   ServiceMonitor/PrometheusRule: .ci/check-k8s.py (no schema is bundled for CRDs),
#   and the PrometheusRule must be what .ci/gen-prometheusrule.py generates;
#   the kustomize build, when kubectl is installed.
# Usage: .ci/validate-manifests.sh [BINARY]
#   with BINARY, also runs `BINARY check-config` on the ConfigMap's config.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

bin=${1:-}
k=deploy/kubernetes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need_pip kubernetes-validate kubernetes-validate==1.37.0
log "kubernetes-validate --strict: core kinds"
kubernetes-validate --strict --quiet \
  "$k/configmap.yaml" "$k/deployment.yaml" "$k/service.yaml" "$k/secret.example.yaml"

log "PrometheusRule is generated from the rules file"
python3 .ci/gen-prometheusrule.py --check

log "custom resources and cross references"
python3 .ci/check-k8s.py

if command -v kubectl >/dev/null 2>&1; then
  log "kustomize build"
  kubectl kustomize "$k" >"$tmp/build.yaml"
  # Strict for the core kinds; the CRs have no bundled schema and only warn.
  kubernetes-validate --strict --quiet --no-warn "$tmp/build.yaml"
  log "kustomize build: deploy/kubernetes-pod-identity"
  kubectl kustomize deploy/kubernetes-pod-identity >"$tmp/pod-identity.yaml"
  kubernetes-validate --strict --quiet --no-warn "$tmp/pod-identity.yaml"
  log "kustomize build: deploy/kubernetes-tmp"
  kubectl kustomize deploy/kubernetes-tmp >"$tmp/tmp.yaml"
  kubernetes-validate --strict --quiet --no-warn "$tmp/tmp.yaml"
else
  log "kubectl not installed: skipping the kustomize build"
fi

if docker compose version >/dev/null 2>&1; then
  log "docker compose config"
  docker compose -f deploy/docker-compose.yml config -q
elif command -v docker-compose >/dev/null 2>&1; then
  # Compose v1 predates the top-level name: key; check the rest against its schema.
  log "docker-compose (v1) config"
  grep -v '^name:' deploy/docker-compose.yml >"$tmp/compose.yml"
  docker-compose --project-directory deploy -f "$tmp/compose.yml" config -q
else
  log "no docker compose: compose file checked only by check-k8s.py"
fi

if [ -n "$bin" ]; then
  log "$bin check-config on the ConfigMap's config"
  python3 - "$k/configmap.yaml" "$tmp" <<'PY'
import pathlib, re, sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
tmp = pathlib.Path(sys.argv[2])
# The key file is mounted from the Secret in the cluster; use a stand-in here.
# Edit the text rather than re-dump it, so the config is checked as written.
(tmp / "secret_key").write_text("EXAMPLEEXAMPLEEXAMPLEEXAMPLE\n")
cfg, n = re.subn(r"(?m)^(\s*secret_key_file:).*$", rf"\1 {tmp / 'secret_key'}", cm["data"]["config.yml"])
assert n == 1, "config.yml must set credentials.secret_key_file once"
(tmp / "config.yml").write_text(cfg)
PY
  TENCENTCLOUD_SECRET_ID=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE \
    "$bin" check-config --config.file "$tmp/config.yml"
fi
log "manifests: OK"
