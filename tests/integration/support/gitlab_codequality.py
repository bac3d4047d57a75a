"""Checks a GitLab Code Quality report (the artifact of `artifacts:reports:codequality`) against
the fields GitLab documents as required (docs.gitlab.com/ee/ci/testing/code_quality.html,
"Implement a custom tool"; a subset of the Code Climate analyzer spec): a JSON array of issues,
each with a string `description`, `check_name` and unique `fingerprint`, a `severity` of info,
minor, major, critical or blocker, and a `location` whose `path` is relative to the repository
and whose `lines.begin` (or `positions.begin.line`) is a line number from 1. Optional Code Climate
fields, when present, must have their types (`type` is "issue", `categories` from the spec's list).
Exit 0 when valid, else 1 with one line per problem."""
import json
import sys

SEVERITIES = {"info", "minor", "major", "critical", "blocker"}
CATEGORIES = {"Bug Risk", "Clarity", "Compatibility", "Complexity", "Duplication", "Performance",
              "Security", "Style"}


def problems(report):
    if not isinstance(report, list):
        yield "the report is not a JSON array"
        return
    seen = set()
    for i, issue in enumerate(report):
        where = f"issue {i}"
        if not isinstance(issue, dict):
            yield f"{where}: not an object"
            continue
        for key in ("description", "check_name", "fingerprint"):
            if not isinstance(issue.get(key), str) or not issue[key]:
                yield f"{where}: `{key}` must be a non-empty string"
        fp = issue.get("fingerprint")
        if fp in seen:
            yield f"{where}: fingerprint {fp} is not unique"
        seen.add(fp)
        if issue.get("severity") not in SEVERITIES:
            yield f"{where}: severity {issue.get('severity')!r} not in {sorted(SEVERITIES)}"
        loc = issue.get("location")
        if not isinstance(loc, dict):
            yield f"{where}: `location` must be an object"
            continue
        path = loc.get("path")
        if not isinstance(path, str) or not path or path.startswith("/") or path.startswith(".."):
            yield f"{where}: location.path {path!r} must be relative to the repository"
        lines, positions = loc.get("lines"), loc.get("positions")
        begin = None
        if isinstance(lines, dict):
            begin = lines.get("begin")
            end = lines.get("end", begin)
            if not isinstance(end, int) or (isinstance(begin, int) and end < begin):
                yield f"{where}: location.lines.end {end!r} is not a line at or after begin"
        elif isinstance(positions, dict):
            begin = (positions.get("begin") or {}).get("line")
        if not isinstance(begin, int) or isinstance(begin, bool) or begin < 1:
            yield f"{where}: location.lines.begin {begin!r} must be a line number from 1"
        if "type" in issue and issue["type"] != "issue":
            yield f"{where}: type must be \"issue\""
        cats = issue.get("categories", [])
        if not isinstance(cats, list) or not set(cats) <= CATEGORIES:
            yield f"{where}: categories {cats!r} outside the Code Climate list"


def main(path):
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    found = list(problems(report))
    for p in found:
        print(p)
    if not report:
        print("empty report (expected findings)")
        return 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
