#!/usr/bin/env python3
"""Checks of deploy/kubernetes and deploy/docker-compose.yml that schemas cannot do.

- ServiceMonitor / PrometheusRule (no bundled schema): apiVersion, kind, required
  fields, known keys; the PrometheusRule's groups equal the Prometheus rules file.
- Cross references: selectors, port names, ConfigMap/Secret names and keys, the
  config path and the secret key file path, the locked-down security context.
- kustomization.yaml lists every manifest but the example Secret.
- docker-compose.yml: the files it mounts or builds from exist.
- deploy/kubernetes-pod-identity (built with kubectl kustomize, when installed): the
  ServiceAccount with the TKE role annotation, the TKE_* env, the projected token at
  TKE_WEB_IDENTITY_TOKEN_FILE, no key Secret, and `credentials.source: oidc`.
- deploy/kubernetes-tmp (TMP): its component labels the ServiceMonitor `prom_id` and copies
  that ID into the PrometheusRule's namespace; checked as written, and, built with kubectl
  kustomize when installed, in its output.
"""
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy/kubernetes"
RULES = ROOT / "deploy/prometheus/rules/cdb-rollback.rules.yml"
COMPOSE = ROOT / "deploy/docker-compose.yml"
POD_IDENTITY = ROOT / "deploy/kubernetes-pod-identity"
TMP = ROOT / "deploy/kubernetes-tmp"
# A TMP instance ID, and so a namespace name.
PROM_ID = re.compile(r"^prom-[a-z0-9]{1,58}$")
TKE_ENV = {"TKE_REGION", "TKE_PROVIDER_ID", "TKE_ROLE_ARN", "TKE_WEB_IDENTITY_TOKEN_FILE"}
DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
ENDPOINT_KEYS = {"port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "honorLabels",
                 "honorTimestamps", "relabelings", "metricRelabelings", "params", "tlsConfig",
                 "basicAuth", "authorization", "bearerTokenSecret", "followRedirects", "enableHttp2"}
SM_SPEC_KEYS = {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels",
                "podTargetLabels", "sampleLimit", "attachMetadata"}
RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
CONFIG_KEYS = {"api", "credentials", "poll", "jobs", "discovery"}

errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


def subset(a, b):
    return all(b.get(k) == v for k, v in (a or {}).items())


def main():
    docs = {}
    for f in sorted(K8S.glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d:
                docs[d["kind"]] = (f.name, d)
    for kind in ("ConfigMap", "Secret", "Deployment", "Service", "ServiceMonitor", "PrometheusRule", "Kustomization"):
        check(kind in docs, f"no {kind} in {K8S.relative_to(ROOT)}")
    if errors:
        return
    cm, secret = docs["ConfigMap"][1], docs["Secret"][1]
    dep, svc = docs["Deployment"][1], docs["Service"][1]
    sm, pr = docs["ServiceMonitor"][1], docs["PrometheusRule"][1]

    # ServiceMonitor
    check(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor: apiVersion")
    check(sm.get("metadata", {}).get("name"), "ServiceMonitor: metadata.name")
    spec = sm.get("spec", {})
    check(set(spec) <= SM_SPEC_KEYS, f"ServiceMonitor: unknown spec keys {set(spec) - SM_SPEC_KEYS}")
    check(spec.get("selector", {}).get("matchLabels"), "ServiceMonitor: spec.selector.matchLabels required")
    check(spec.get("endpoints"), "ServiceMonitor: spec.endpoints required")
    svc_ports = {p.get("name") for p in svc["spec"]["ports"]}
    for ep in spec.get("endpoints", []):
        check(set(ep) <= ENDPOINT_KEYS, f"ServiceMonitor endpoint: unknown keys {set(ep) - ENDPOINT_KEYS}")
        check(ep.get("port") in svc_ports, f"ServiceMonitor endpoint port {ep.get('port')} not a Service port {svc_ports}")
        for k in ("interval", "scrapeTimeout"):
            if k in ep:
                check(DURATION.match(ep[k]), f"ServiceMonitor endpoint {k} {ep[k]!r} is not a duration")
    check(subset(spec.get("selector", {}).get("matchLabels"), svc["metadata"].get("labels", {})),
          "ServiceMonitor selector does not select the Service")

    # PrometheusRule
    check(pr["apiVersion"] == "monitoring.coreos.com/v1", "PrometheusRule: apiVersion")
    check(pr.get("metadata", {}).get("name"), "PrometheusRule: metadata.name")
    groups = pr.get("spec", {}).get("groups") or []
    check(groups, "PrometheusRule: spec.groups required")
    names = [g.get("name") for g in groups]
    check(all(names) and len(set(names)) == len(names), "PrometheusRule: group names must be set and unique")
    for g in groups:
        for r in g.get("rules") or []:
            check(("record" in r) != ("alert" in r), f"PrometheusRule rule needs exactly one of record/alert: {r}")
            check(isinstance(r.get("expr"), str) and r["expr"].strip(), f"PrometheusRule rule without expr: {r}")
            check(set(r) <= RULE_KEYS, f"PrometheusRule rule: unknown keys {set(r) - RULE_KEYS}")
    check(groups == yaml.safe_load(RULES.read_text())["groups"],
          f"PrometheusRule groups differ from {RULES.relative_to(ROOT)}: run python3 .ci/gen-prometheusrule.py")

    # Deployment <-> Service <-> ConfigMap <-> Secret
    tpl = dep["spec"]["template"]
    pod_labels = tpl["metadata"]["labels"]
    check(subset(dep["spec"]["selector"]["matchLabels"], pod_labels), "Deployment selector does not match its pods")
    check(subset(svc["spec"]["selector"], pod_labels), "Service selector does not match the pods")
    pod = tpl["spec"]
    (c,) = pod["containers"]
    cports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    for p in svc["spec"]["ports"]:
        check(p["targetPort"] in cports or p["targetPort"] in cports.values(),
              f"Service targetPort {p['targetPort']} is no container port")
    for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        check(c.get(probe, {}).get("httpGet", {}).get("path") == path, f"{probe} must GET {path}")

    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65532, "pod must run as non-root 65532")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccompProfile RuntimeDefault")
    check(csc.get("readOnlyRootFilesystem") is True, "container readOnlyRootFilesystem")
    check(csc.get("allowPrivilegeEscalation") is False, "container allowPrivilegeEscalation false")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"], "container must drop ALL capabilities")
    res = c.get("resources", {})
    check(res.get("requests") and res.get("limits"), "container requests and limits")

    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    cfg_vol = [n for n, v in vols.items() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    sec_vol = [n for n, v in vols.items() if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]]
    if check(cfg_vol and cfg_vol[0] in mounts, "the ConfigMap is not mounted") and \
            check(sec_vol and sec_vol[0] in mounts, "the Secret is not mounted"):
        args = [a.split("=", 1)[1] for a in c.get("args", []) if a.startswith("--config.file=")]
        cfg_path = args[0] if args else "/etc/cdb-rollback-exporter/config.yml"
        cfg_dir, _, cfg_key = cfg_path.rpartition("/")
        check(cfg_dir == mounts[cfg_vol[0]] and cfg_key in cm["data"],
              f"--config.file {cfg_path} is not a key of the mounted ConfigMap")
        config = yaml.safe_load(cm["data"].get(cfg_key, "{}"))
        check(set(config) <= CONFIG_KEYS, f"config: unknown top-level keys {set(config) - CONFIG_KEYS}")
        items = {i["key"]: i["path"] for i in vols[sec_vol[0]]["secret"].get("items", [])}
        key_file = config.get("credentials", {}).get("secret_key_file", "")
        want = {f"{mounts[sec_vol[0]]}/{p}" for p in items.values()}
        check(key_file in want, f"credentials.secret_key_file {key_file!r} is not the mounted secret file {want}")
        for k in items:
            check(k in secret.get("stringData", {}) or k in secret.get("data", {}), f"Secret key {k} missing")
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            check(ref["name"] == secret["metadata"]["name"], f"env {e['name']}: unknown Secret {ref['name']}")
            check(ref["key"] in secret.get("stringData", {}), f"env {e['name']}: Secret has no key {ref['key']}")
    check(any(e["name"] == "TENCENTCLOUD_SECRET_ID" for e in c.get("env", [])), "TENCENTCLOUD_SECRET_ID not set")

    # kustomization
    kus = docs["Kustomization"][1]
    listed = set(kus.get("resources", []))
    present = {f.name for f in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    check(listed == present, f"kustomization resources {sorted(listed)} != manifests {sorted(present)}")

    # docker-compose
    comp = yaml.safe_load(COMPOSE.read_text())
    base = COMPOSE.parent
    for name, s in comp["services"].items():
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                check((base / src).exists(), f"compose {name}: {src} does not exist")
        if "build" in s:
            ctx = base / s["build"]["context"]
            check((ctx / s["build"].get("dockerfile", "Dockerfile")).exists(), f"compose {name}: no Dockerfile")
    check("--demo" in comp["services"].get("exporter", {}).get("command", []), "compose exporter must run --demo")


def build(overlay, what):
    """The overlay's documents by kind, built with kubectl kustomize; None without kubectl or on failure."""
    if not shutil.which("kubectl"):
        print(f"kubectl not installed: {what} overlay not built")
        return None
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True)
    if not check(out.returncode == 0, f"kustomize {overlay.relative_to(ROOT)}: {out.stderr.strip()}"):
        return None
    return {d["kind"]: d for d in yaml.safe_load_all(out.stdout) if d}


def check_pod_identity():
    docs = build(POD_IDENTITY, "pod-identity")
    if docs is None:
        return
    sa, dep, cm = docs.get("ServiceAccount"), docs.get("Deployment"), docs.get("ConfigMap")
    if not check(sa and dep and cm, "pod identity: ServiceAccount, Deployment and ConfigMap expected"):
        return
    arn = sa["metadata"].get("annotations", {}).get("tke.cloud.tencent.com/role-arn", "")
    check(arn.startswith("qcs::cam::"), "pod identity: ServiceAccount needs tke.cloud.tencent.com/role-arn")
    pod = dep["spec"]["template"]["spec"]
    check(pod.get("serviceAccountName") == sa["metadata"]["name"], "pod identity: serviceAccountName")
    (c,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    check(TKE_ENV <= set(env), f"pod identity: env {sorted(TKE_ENV - set(env))} missing")
    check(env.get("TKE_ROLE_ARN") == arn, "pod identity: TKE_ROLE_ARN differs from the role-arn annotation")
    check("TENCENTCLOUD_SECRET_ID" not in env, "pod identity: no TENCENTCLOUD_SECRET_ID")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    check(not any("secret" in v for v in vols.values()), "pod identity: no key Secret is mounted")
    token = env.get("TKE_WEB_IDENTITY_TOKEN_FILE") or ""
    mounted = [m for m in c.get("volumeMounts", []) if token.startswith(m["mountPath"] + "/")]
    projected = [s for m in mounted for s in vols.get(m["name"], {}).get("projected", {}).get("sources", [])
                 if f"{m['mountPath']}/{s.get('serviceAccountToken', {}).get('path')}" == token]
    check(projected, f"pod identity: {token!r} is not a projected service account token")
    config = yaml.safe_load(cm["data"]["config.yml"])
    check(config.get("credentials", {}).get("source") == "oidc", "pod identity: credentials.source must be oidc")


def check_tmp():
    """The overlay as written: base, component, the label patch and the namespace copy."""
    names = {d["kind"]: d.get("metadata", {}).get("name") for f in K8S.glob("*.yaml") for d in yaml.safe_load_all(f.read_text()) if d}
    sm, rule = names.get("ServiceMonitor"), names.get("PrometheusRule")
    k = yaml.safe_load((TMP / "kustomization.yaml").read_text())
    check(k.get("resources") == ["../kubernetes"] and k.get("components") == ["prom-id"],
          "tmp: kustomization.yaml must use ../kubernetes and the prom-id component")
    c = yaml.safe_load((TMP / "prom-id/kustomization.yaml").read_text())
    check(c.get("kind") == "Component", "tmp: prom-id must be a kustomize Component")
    patches = c.get("patches") or []
    ids = [op.get("value") for p in patches if p.get("target") == {"kind": "ServiceMonitor", "name": sm}
           for op in yaml.safe_load(p.get("patch", "")) or []
           if op.get("op") == "add" and op.get("path") == "/metadata/labels/prom_id"]
    if check(len(ids) == 1, f"tmp: one patch must add the label prom_id to ServiceMonitor {sm}"):
        check(PROM_ID.match(str(ids[0])), f"tmp: prom_id {ids[0]!r} is not a TMP instance ID (prom-...)")
    want = {"source": {"kind": "ServiceMonitor", "name": sm, "fieldPath": "metadata.labels.prom_id"},
            "targets": [{"select": {"kind": "PrometheusRule", "name": rule},
                         "fieldPaths": ["metadata.namespace"], "options": {"create": True}}]}
    check(c.get("replacements") == [want], "tmp: the PrometheusRule's namespace must be copied from prom_id")
    built = build(TMP, "TMP")
    if built is None:
        return
    docs = {kind: d["metadata"] for kind, d in built.items()}
    prom_id = docs.get("ServiceMonitor", {}).get("labels", {}).get("prom_id")
    check(prom_id and docs.get("PrometheusRule", {}).get("namespace") == prom_id,
          "tmp: built, the PrometheusRule's namespace must equal the ServiceMonitor's prom_id")
    moved = [kind for kind, m in docs.items() if kind != "PrometheusRule" and "namespace" in m]
    check(not moved, f"tmp: only the PrometheusRule changes namespace, not {moved}")


if __name__ == "__main__":
    main()
    check_pod_identity()
    check_tmp()
    for e in errors:
        print(f"ERROR: {e}", file=sys.stderr)
    if not errors:
        print("custom resources, cross references, kustomization and compose file: OK")
    sys.exit(1 if errors else 0)
