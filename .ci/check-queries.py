#!/usr/bin/env python3
"""Check the PromQL of the Grafana dashboard and of the Prometheus rules.

- the dashboard has a `datasource` variable (type datasource, prometheus) and
  every panel and query uses it;
- every dashboard query parses (promtool check rules on a generated rules file,
  with Grafana's variables replaced);
- dashboard and rules name only metrics of .ci/metrics-contract.txt, recording
  rules of the rules files, or Prometheus' own (up).
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
RULE_FILES = sorted((ROOT / "deploy/prometheus/rules").glob("*.yml"))
CONTRACT = pathlib.Path(__file__).with_name("metrics-contract.txt")
DS = {"type": "prometheus", "uid": "${datasource}"}
NAME = re.compile(r"\b(cdb_rollback[a-z0-9_:]*|up)\b(?!\s*\()")


def known_names():
    names = {"up"}
    for line in CONTRACT.read_text().splitlines():
        if line.strip() and not line.startswith(("#", "@")):
            name, kind, *_ = line.split()
            names.add(name)
            if kind == "histogram":
                names.update(name + s for s in ("_bucket", "_sum", "_count"))
    for f in RULE_FILES:
        for g in yaml.safe_load(f.read_text())["groups"]:
            names.update(r["record"] for r in g["rules"] if "record" in r)
    return names


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def main():
    errors, exprs = [], []
    known = known_names()

    for f in RULE_FILES:
        for g in yaml.safe_load(f.read_text())["groups"]:
            for r in g["rules"]:
                for n in NAME.findall(strip_strings(r["expr"])):
                    if n not in known:
                        errors.append(f"{f.name}: {r.get('alert') or r.get('record')}: unknown metric {n}")

    for f in DASHBOARDS:
        d = json.loads(f.read_text())
        var = [v for v in d["templating"]["list"] if v["name"] == "datasource"]
        if not var or var[0]["type"] != "datasource" or var[0]["query"] != "prometheus":
            errors.append(f"{f.name}: no datasource variable of type datasource/prometheus")
        ids = set()
        for p in d["panels"]:
            where = f"{f.name}: panel {p.get('id')} {p.get('title')!r}"
            if p["id"] in ids:
                errors.append(f"{where}: duplicate id")
            ids.add(p["id"])
            g = p["gridPos"]
            if g["x"] + g["w"] > 24:
                errors.append(f"{where}: wider than the grid")
            if p["type"] == "row":
                continue
            if p.get("datasource") != DS:
                errors.append(f"{where}: datasource is {p.get('datasource')}, want {DS}")
            if not p.get("targets"):
                errors.append(f"{where}: no queries")
            for t in p.get("targets", []):
                if t.get("datasource") != DS:
                    errors.append(f"{where} {t.get('refId')}: query datasource is not ${{datasource}}")
                expr = t.get("expr", "")
                if not expr:
                    errors.append(f"{where} {t.get('refId')}: empty query")
                    continue
                expr = expr.replace("$__rate_interval", "1m").replace("$job", ".+")
                if "$" in expr:
                    errors.append(f"{where}: unknown variable in {expr}")
                for n in NAME.findall(strip_strings(expr)):
                    if n not in known:
                        errors.append(f"{where}: unknown metric {n}")
                exprs.append((where, expr))

    with tempfile.NamedTemporaryFile("w", suffix=".yml") as tmp:
        rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, (_, e) in enumerate(exprs)]
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, tmp)
        tmp.flush()
        res = subprocess.run(["promtool", "check", "rules", tmp.name], capture_output=True, text=True)
        if res.returncode != 0:
            errors.append("dashboard queries do not parse:\n" + res.stdout + res.stderr)

    for e in errors:
        print(f"ERROR: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"{len(DASHBOARDS)} dashboard(s), {len(exprs)} queries parse; rules and dashboard use only known metrics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
