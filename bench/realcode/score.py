#!/usr/bin/env python3
"""Scores an oomlint binary against the labelled real-code corpus (see LABELING.md).

    bench/realcode/score.py BINARY [--corpus DIR] [--split dev|holdout|holdout2|holdout3|all] [--list fp,miss,unjudged]
                            [--json OUT]

The corpus is the repositories of manifest.tsv cloned under DIR/<split>/<owner>__<name>
(default $OOMLINT_REALCODE or /work/corpus). Each repository's labelled files are checked in one
run from the repository's root, as a user would check their project. A finding matches a label
with the same file, code and line (a label may give a range, `12-14`, or a notebook cell,
`c3:5`). Precision counts findings: those on a positive label (TP or MISS) over all findings,
unjudged ones included. Recall counts positive labels that some finding matches. OOM011 needs a
GPU size and is not scored.
"""
import argparse
import collections
import csv
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Rule families as the deep-analysis issue names them; every other rule is a family of its own.
FAMILIES = {
    "OOM201": "OOM201/202", "OOM202": "OOM201/202",
    "OOM153": "OOM153/154", "OOM154": "OOM153/154",
    "OOM061": "OOM061/062", "OOM062": "OOM061/062",
    "OOM071": "OOM071/072", "OOM072": "OOM071/072",
    "OOM151": "OOM151/152", "OOM152": "OOM151/152",
    "OOM051": "OOM051/052", "OOM052": "OOM051/052",
    "OOM081": "OOM081/082", "OOM082": "OOM081/082",
}
POSITIVE = {"TP", "MISS"}
NEGATIVE = {"FP", "NEG"}


def read_tsv(name):
    with open(os.path.join(HERE, name), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:]]


def parse_line(spec):
    """'12' -> (0, 12, 12); '12-14' -> (0, 12, 14); 'c3:5' -> (3, 5, 5)."""
    cell = 0
    if spec.startswith("c"):
        c, spec = spec[1:].split(":", 1)
        cell = int(c)
    lo, _, hi = spec.partition("-")
    return cell, int(lo), int(hi or lo)


def run(binary, root, paths):
    cmd = [binary, "check", "--no-cache", "--exit-zero", "--output-format", "json", *paths]
    p = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"score: {' '.join(cmd)} in {root} failed ({p.returncode}): {p.stderr[:500]}")
    return json.loads(p.stdout or "[]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--corpus", default=os.environ.get("OOMLINT_REALCODE", "/work/corpus"))
    ap.add_argument("--split", default="dev", choices=["dev", "holdout", "holdout2", "holdout3", "all"])
    ap.add_argument("--list", default="", help="comma-separated: fp, miss, unjudged, tp")
    ap.add_argument("--code", default="", help="only these codes (comma-separated)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    wanted = set(filter(None, args.list.split(",")))
    codes = set(filter(None, args.code.split(",")))

    manifest = [m for m in read_tsv("manifest.tsv") if args.split in ("all", m["split"])]
    files = {m["file_id"]: m for m in manifest}
    labels = collections.defaultdict(list)  # (file_id, code) -> [label]
    for lab in read_tsv("labels.tsv"):
        if lab["file_id"] in files and lab["code"] != "OOM011":
            lab["where"] = parse_line(lab["line"])
            labels[(lab["file_id"], lab["code"])].append(lab)

    by_repo = collections.defaultdict(list)
    for m in manifest:
        by_repo[(m["split"], m["file_id"].split("/", 1)[0])].append(m)
    findings = []  # (file_id, code, cell, line, message)
    for (split, repo_dir), ms in sorted(by_repo.items()):
        root = os.path.join(args.corpus, split, repo_dir)
        if not os.path.isdir(root):
            sys.exit(f"score: {root} is missing: clone {ms[0]['repo']} at {ms[0]['commit']}")
        for d in run(binary, root, [m["path"] for m in ms]):
            rel = os.path.relpath(d["filename"], root) if os.path.isabs(d["filename"]) else d["filename"]
            fid = f"{repo_dir}/{rel}"
            if d["code"] == "OOM011" or fid not in files:
                continue
            findings.append((fid, d["code"], d.get("cell", 0) or 0, d["location"]["row"], d["message"]))

    def matches(lab, cell, line):
        c, lo, hi = lab["where"]
        return c == cell and lo <= line <= hi

    stats = collections.defaultdict(collections.Counter)
    listed = []
    matched = set()
    for fid, code, cell, line, msg in findings:
        if codes and code not in codes:
            continue
        hit = [lab for lab in labels.get((fid, code), []) if matches(lab, cell, line)]
        where = f"c{cell}:{line}" if cell else str(line)
        if any(lab["verdict"] in POSITIVE for lab in hit):
            kind = "tp"
            for lab in hit:
                if lab["verdict"] in POSITIVE:
                    matched.add(id(lab))
        elif hit:
            kind = "fp"
        else:
            kind = "unjudged"
        stats[code][kind] += 1
        if kind in wanted:
            reason = hit[0]["reason"] if hit else msg
            listed.append(f"{kind.upper():9} {code} {fid}:{where}  {reason}")
    for (fid, code), labs in labels.items():
        if codes and code not in codes:
            continue
        for lab in labs:
            if lab["verdict"] in POSITIVE:
                stats[code]["positives"] += 1
                if id(lab) not in matched:
                    stats[code]["miss"] += 1
                    if "miss" in wanted:
                        listed.append(f"MISS      {code} {fid}:{lab['line']}  {lab['reason']}")

    def figures(c):
        found = c["tp"] + c["fp"] + c["unjudged"]
        prec = c["tp"] / found if found else None
        rec = (c["positives"] - c["miss"]) / c["positives"] if c["positives"] else None
        return found, prec, rec

    def fmt(x):
        return "   -" if x is None else f"{x:.2f}"

    families = collections.defaultdict(collections.Counter)
    total = collections.Counter()
    for code, c in stats.items():
        families[FAMILIES.get(code, code)].update(c)
        total.update(c)
    out = {"split": args.split, "files": len(files), "repos": len(by_repo), "rules": {}, "families": {}}
    print(f"split {args.split}: {len(files)} files from {len(by_repo)} repositories")
    print(f"{'rule':12} {'found':>5} {'tp':>4} {'fp':>4} {'unj':>4} {'pos':>4} {'miss':>4} {'prec':>5} {'rec':>5}")
    for name, table in (("rules", stats), ("families", families)):
        for key in sorted(table):
            c = table[key]
            found, prec, rec = figures(c)
            out[name][key] = dict(c, precision=prec, recall=rec)
            if name == "families" and key in stats and FAMILIES.get(key, key) == key:
                continue  # a family of one rule is its rule
            print(f"{key:12} {found:5} {c['tp']:4} {c['fp']:4} {c['unjudged']:4} {c['positives']:4} "
                  f"{c['miss']:4} {fmt(prec):>5} {fmt(rec):>5}")
        if name == "rules":
            print("-- families")
    found, prec, rec = figures(total)
    out["total"] = dict(total, precision=prec, recall=rec)
    print(f"{'all':12} {found:5} {total['tp']:4} {total['fp']:4} {total['unjudged']:4} "
          f"{total['positives']:4} {total['miss']:4} {fmt(prec):>5} {fmt(rec):>5}")
    for line in sorted(listed):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
