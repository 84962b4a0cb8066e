#!/usr/bin/env python3
"""Check a scrape of the exporter (text format 0.0.4) against its metric contract.

Usage: check-exposition.py METRICS_FILE
Exit 0: all good. Exit 2: some contract families are missing (the caller may
retry later: the demo needs a few polls). Exit 1: the exposition breaks the contract.
"""
import collections
import pathlib
import re
import sys

CONTRACT = pathlib.Path(__file__).with_name("metrics-contract.txt")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(\S+))?$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def load_contract():
    families, values = {}, {}
    for line in CONTRACT.read_text().splitlines():
        if line.startswith("@values "):
            _, label, allowed = line.split()
            values[label] = set(allowed.split(","))
        elif line.strip() and not line.startswith("#"):
            name, kind, labels, *flags = line.split()
            required = set() if labels == "-" else set(labels.split(","))
            families[name] = (kind, required, "optional" in flags)
    return families, values


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise ValueError(f"bad label set {{{text}}}")
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def main(path):
    contract, values = load_contract()
    STATES, RESULTS, ACTIONS = values["state"], values["result"], values["action"]
    errors, types, samples = [], {}, []
    for n, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            if not m:
                errors.append(f"line {n}: cannot parse: {line}")
                continue
            name, labels, value, ts = m.groups()
            if ts is not None:
                errors.append(f"line {n}: sample has an explicit timestamp: {line}")
            samples.append((name, parse_labels(labels or ""), float(value)))

    def family(name):
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and types.get(base) == "histogram":
                return base
        return name

    by_family = collections.defaultdict(list)
    for name, labels, value in samples:
        by_family[family(name)].append((name, labels, value))

    for name, (kind, required, _) in contract.items():
        if name in types and types[name] != kind:
            errors.append(f"{name}: TYPE {types[name]}, contract says {kind}")
        for sname, labels, value in by_family.get(name, []):
            missing = required - labels.keys()
            if missing:
                errors.append(f"{sname}{labels}: lacks label(s) {sorted(missing)}")
            for bad in ("job", "instance"):
                if bad in labels:
                    errors.append(f"{sname}: label {bad!r} clashes with Prometheus target labels")

    def values(name):
        return by_family.get(name, [])

    for fam in ("cdb_rollback_job_state", "cdb_rollback_task_state"):
        sets = collections.defaultdict(dict)
        for _, labels, value in values(fam):
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "state"))
            sets[key][labels.get("state")] = value
        for key, states in sets.items():
            if set(states) != STATES:
                errors.append(f"{fam}{dict(key)}: states {sorted(states)}, want {sorted(STATES)}")
            if sorted(states.values()).count(1.0) != 1 or sum(states.values()) != 1.0:
                errors.append(f"{fam}{dict(key)}: want exactly one state at 1, got {states}")

    for fam in ("cdb_rollback_job_progress_ratio", "cdb_rollback_task_progress_ratio"):
        for _, labels, value in values(fam):
            if not 0.0 <= value <= 1.0:
                errors.append(f"{fam}{labels} = {value}: a ratio must be within 0..1")
    for fam in ("cdb_rollback_job_poll_success", "cdb_rollback_discovery_success"):
        for _, labels, value in values(fam):
            if value not in (0.0, 1.0):
                errors.append(f"{fam}{labels} = {value}: want 0 or 1")
    for fam in ("cdb_rollback_job_info", "cdb_rollback_task_info", "cdb_rollback_exporter_build_info"):
        for _, labels, value in values(fam):
            if value != 1.0:
                errors.append(f"{fam}{labels} = {value}: an info metric is 1")
    for sname, labels, _ in values("cdb_rollback_api_requests_total"):
        if labels.get("result") not in RESULTS:
            errors.append(f"{sname}{labels}: result not one of {sorted(RESULTS)}")
        if labels.get("action") not in ACTIONS:
            errors.append(f"{sname}{labels}: action not one of {sorted(ACTIONS)}")

    # A job or task that has not ended has no end time.
    for kind in ("job", "task"):
        ended = {tuple(sorted(l.items())) for _, l, _ in values(f"cdb_rollback_{kind}_end_time_seconds")}
        for _, labels, value in values(f"cdb_rollback_{kind}_state"):
            if labels["state"] in ("initial", "running") and value == 1.0:
                key = tuple(sorted((k, v) for k, v in labels.items() if k != "state"))
                if key in ended:
                    errors.append(f"cdb_rollback_{kind}_end_time_seconds{dict(key)} present while {labels['state']}")

    if not any(n.startswith("process_") for n in types):
        errors.append("no process_* metrics")

    absent = sorted(n for n, (_, _, optional) in contract.items() if not optional and n not in by_family)
    for e in errors:
        print(f"contract: {e}", file=sys.stderr)
    if errors:
        return 1
    if absent:
        print(f"contract: not (yet) exposed: {', '.join(absent)}", file=sys.stderr)
        return 2
    jobs = {l["job_id"] for _, l, _ in values("cdb_rollback_job_state")}
    tasks = {(l["job_id"], l["region"], l["instance_id"]) for _, l, _ in values("cdb_rollback_task_state")}
    print(f"contract: {len(contract)} families present, {len(jobs)} jobs, {len(tasks)} tasks, all checks passed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
