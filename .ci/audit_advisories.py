#!/usr/bin/env python3
# Copied from the project's shared tools (shared/tools/audit_advisories.py), unchanged below this line.
"""Offline check of pinned/installed Python packages against an OSV advisory snapshot.

Usage:
    python3 audit_advisories.py ADVISORY_TREE FREEZE_FILE

ADVISORY_TREE is either
  * the PyPA advisory-database layout: a folder holding vulns/<name>/*.yaml (or the vulns folder itself), or
  * the GitHub advisory-database layout: a folder holding advisories/github-reviewed/**/GHSA-*.json
    (only entries whose affected package ecosystem is PyPI are used).
FREEZE_FILE is `pip list --format=freeze` / `pip freeze` output or a requirements file: every
`name[extras]==version` line is checked; other lines (-r, comments, unpinned, URLs) are skipped and counted.

A version is affected when it is listed in affected[].versions, or falls inside an affected[].ranges[] entry
of type ECOSYSTEM (OSV events introduced / fixed / last_affected, evaluated as in the OSV spec). GIT ranges
are ignored. Withdrawn advisories are skipped. Prints one line per finding and exits 1 if there is any
finding, 0 otherwise (2 on usage errors).

Needs PyYAML (YAML layout only) and packaging.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;#]+)")


def parse_version(s):
    try:
        return Version(str(s))
    except InvalidVersion:
        return None


def installed_version(s):
    """The installed version without its local label: torch 2.13.0+cpu is checked as 2.13.0."""
    v = parse_version(s)
    return Version(v.public) if v is not None else None


def read_pins(path: Path):
    pins, skipped = {}, 0
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        m = PIN.match(line)
        if m:
            pins[canonicalize_name(m.group(1))] = (m.group(1), m.group(2))
        elif not line.startswith("-"):
            skipped += 1
    return pins, skipped


def iter_advisory_files(tree: Path):
    """Yield (path, kind) for every advisory file in either layout."""
    if (tree / "vulns").is_dir():
        tree = tree / "vulns"
    if (tree / "advisories").is_dir():
        tree = tree / "advisories"
    if tree.name == "advisories" and (tree / "github-reviewed").is_dir():
        tree = tree / "github-reviewed"
    for p in sorted(tree.rglob("*")):
        if p.suffix in (".yaml", ".yml"):
            yield p, "yaml"
        elif p.suffix == ".json":
            yield p, "json"


def load(path: Path, kind: str):
    text = path.read_text(encoding="utf-8")
    if kind == "json":
        return json.loads(text)
    import yaml  # only needed for the PyPA layout

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def in_range(v: Version, events, upper_spec: str | None):
    """OSV spec evaluation of one ECOSYSTEM range. Returns (affected, fixed_versions) or None if unparsable."""
    parsed = []
    for ev in events:
        for key in ("introduced", "fixed", "last_affected"):
            if key in ev:
                raw = str(ev[key])
                ver = Version("0") if raw == "0" else parse_version(raw)
                if ver is None:
                    return None
                parsed.append((ver, key, raw))
    # Sort by version; at an equal version evaluate "introduced" before a closing event.
    order = {"introduced": 0, "fixed": 1, "last_affected": 1}
    parsed.sort(key=lambda e: (e[0], order[e[1]]))
    affected = False
    for ver, key, raw in parsed:
        if key == "introduced" and (raw == "0" or v >= ver):  # "0" means "from the first version on"
            affected = True
        elif (key == "fixed" and v >= ver) or (key == "last_affected" and v > ver):
            affected = False
    closed = any(k != "introduced" for _, k, _ in parsed)
    if affected and not closed and upper_spec:
        # GitHub layout: an open range with no fix carries its bound in database_specific.
        try:
            affected = SpecifierSet(re.sub(r"\s+", "", upper_spec)).contains(v, prereleases=True)
        except InvalidSpecifier:
            pass
    fixed = [raw for _, k, raw in parsed if k == "fixed"]
    return affected, fixed


def matches(affected_entry, version_str: str):
    """Return (hit, fixed_list) for one affected[] entry."""
    v = installed_version(version_str)
    for listed in affected_entry.get("versions") or []:
        lv = parse_version(listed)
        if str(listed) == version_str or (v is not None and lv is not None and lv == v):
            fixed = [
                str(e["fixed"])
                for r in affected_entry.get("ranges") or []
                if r.get("type") == "ECOSYSTEM"
                for e in r.get("events") or []
                if "fixed" in e
            ]
            return True, fixed
    if v is None:
        return False, []
    upper = (affected_entry.get("database_specific") or {}).get("last_known_affected_version_range")
    for r in affected_entry.get("ranges") or []:
        if r.get("type") != "ECOSYSTEM":
            continue
        res = in_range(v, r.get("events") or [], upper)
        if res and res[0]:
            return True, res[1]
    return False, []


def summary_of(adv) -> str:
    s = " ".join((adv.get("summary") or adv.get("details") or "").split())
    return s if len(s) <= 110 else s[:107] + "..."


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    tree, freeze = Path(argv[1]), Path(argv[2])
    pins, skipped = read_pins(freeze)
    n_read = n_withdrawn = n_errors = 0
    findings = []
    for path, kind in iter_advisory_files(tree):
        try:
            adv = load(path, kind)
        except Exception as e:  # noqa: BLE001 - report and keep going
            n_errors += 1
            print(f"warning: cannot read {path}: {e}", file=sys.stderr)
            continue
        if not isinstance(adv, dict) or "id" not in adv:
            continue
        n_read += 1
        if adv.get("withdrawn"):
            n_withdrawn += 1
            continue
        for aff in adv.get("affected") or []:
            pkg = aff.get("package") or {}
            if pkg.get("ecosystem", "PyPI") != "PyPI":
                continue
            key = canonicalize_name(pkg.get("name", ""))
            if key not in pins:
                continue
            ver = pins[key][1]
            hit, fixed = matches(aff, ver)
            if hit:
                aliases = ",".join(a for a in adv.get("aliases") or [] if a.startswith("CVE-")) or "-"
                findings.append((key, ver, adv["id"], aliases, ",".join(fixed) or "none", summary_of(adv)))
                break  # one line per advisory and package
    for f in sorted(set(findings)):
        print(" | ".join(f))
    pkgs_with = len({f[0] for f in findings})
    print(
        f"checked {len(pins)} packages (skipped {skipped} unpinned lines) against {n_read} advisories "
        f"({n_withdrawn} withdrawn, {n_errors} unreadable): {len(set(findings))} findings in {pkgs_with} packages"
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
