#!/usr/bin/env python3
"""Check the Grafana dashboard's queries (the rules are checked by promtool in test-rules.sh).

- the dashboard has a `datasource` variable (type datasource, prometheus) and
  every panel and query uses it;
- every dashboard query parses (promtool check rules on a generated rules file,
  with Grafana's variables replaced).

That rules, dashboard and README name only metrics the exporter writes is checked
once, by `cargo test` (tests/it/contract.rs), not here again.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
DS = {"type": "prometheus", "uid": "${datasource}"}


def main():
    errors, exprs = [], []

    for f in DASHBOARDS:
        d = json.loads(f.read_text())
        var = [v for v in d["templating"]["list"] if v["name"] == "datasource"]
        if not var or var[0]["type"] != "datasource" or var[0]["query"] != "prometheus":
            errors.append(f"{f.name}: no datasource variable of type datasource/prometheus")
        # The dashboard's own variables (job, tag variables) stand for a regex.
        names = sorted(
            (v["name"] for v in d["templating"]["list"] if v["type"] == "query"),
            key=len,
            reverse=True,
        )
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
                expr = expr.replace("$__rate_interval", "1m")
                for n in names:
                    expr = expr.replace("${" + n + "}", ".+").replace("$" + n, ".+")
                if "$" in expr:
                    errors.append(f"{where}: unknown variable in {expr}")
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
    print(f"{len(DASHBOARDS)} dashboard(s), {len(exprs)} queries parse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
