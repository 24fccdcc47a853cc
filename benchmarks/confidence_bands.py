"""The three outcomes of an answer (`Answer.confidence`): "sure" (support at least
`Tuned.sure_support`), "closest" (at least `min_support`: the closest passage, shown as related
material, not asserted) and "none" (a refusal). No model runs here.

`choose`: the sure edge, from the per-question gate values `answer_removed.py --every 1 --json`
keeps for both public sets. On the tuning third of each (every third question from the first,
pooled), the highest edge (steps of 0.01) that keeps at least 3 answerable questions in 4 in the
sure band; then, per set and third, the share of answerable and answer-removed questions per band
and the answerable questions' hit rate per band.

    .venv/bin/python benchmarks/confidence_bands.py choose \\
        benchmarks/results/piaf-fr-answer-removed-all.json benchmarks/results/squad-en-answer-removed-all.json

`report`: per band on the two thirds not tuned on and on all questions: share of questions, hit
rate and citation precision, from the per-question records `rag eval --output` writes (run with
the shipped settings), and the answer-removed questions' shares from the files above (their hit
rate and citation precision are 0 by construction: every passage holding a gold answer is left
out, so any answer is wrong and the share stated as sure is the share misled).

    .venv/bin/python benchmarks/confidence_bands.py report \\
        --eval benchmarks/results/piaf-fr-hybrid.json benchmarks/results/squad-en-hybrid.json \\
        --removed benchmarks/results/piaf-fr-answer-removed-all.json \\
                  benchmarks/results/squad-en-answer-removed-all.json \\
        [--json benchmarks/results/confidence-bands.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common import splits

from rag.tuned import TUNED

KEEP = 0.75  # the sure band keeps at least this share of the tuning third's answerable questions
BANDS = ("sure", "closest", "none")


def band(support: float, sure: float, floor: float = TUNED.min_support) -> str:
    return "sure" if support >= max(sure, floor) else "closest" if support >= floor else "none"


def _load(paths: list[Path]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {
        json.loads(p.read_text())["corpus"].split("/")[-2]: json.loads(p.read_text())["per_question"] for p in paths
    }


def _tuning(rows: list[Any]) -> list[Any]:
    return [rows[i] for i in splits(len(rows), 1)[" [tuning third]"]]


def choose(paths: list[Path]) -> float:
    sets = _load(paths)
    answerable = [r for per in sets.values() for r in _tuning(per["answerable"])]
    edge = TUNED.min_support
    for step in range(round(TUNED.min_support * 100), 101):
        candidate = step / 100
        if sum(r["support"] >= candidate for r in answerable) / len(answerable) >= KEEP:
            edge = candidate
    print(f"sure_support = {edge:.2f} (keeps >= {KEEP:.0%} of {len(answerable)} tuning-third answerable questions)")
    for name, per in sets.items():
        for label, rows_at in splits(len(per["answerable"]), 1).items():
            cells = []
            for b in BANDS:
                ans = [per["answerable"][i] for i in rows_at if band(per["answerable"][i]["support"], edge) == b]
                rem = [
                    per["answer_removed"][i] for i in rows_at if band(per["answer_removed"][i]["support"], edge) == b
                ]
                hit = sum(r["hit"] for r in ans) / len(ans) if ans else 0.0
                cells.append(f"{b} {len(ans) / len(rows_at):.3f} (hit {hit:.3f}) removed {len(rem) / len(rows_at):.3f}")
            print(f"{name}{label}: " + " | ".join(cells))
    return edge


def report(eval_paths: list[Path], removed_paths: list[Path], out: Path | None) -> None:
    results: dict[str, Any] = {"sure_support": TUNED.sure_support, "min_support": TUNED.min_support}
    removed = _load(removed_paths)
    for path in eval_paths:
        run = json.loads(path.read_text())
        name = run["corpus"].split("/")[-2]
        rows = run["per_question"]
        for label, at in splits(len(rows), 1).items():
            for b in BANDS:
                inside = [rows[i] for i in at if rows[i]["confidence"] == b]
                cited = sum(r["cited"] for r in inside)
                rem = removed[name]["answer_removed"]
                rem_at = [rem[i] for i in splits(len(rem), 1)[label]]
                results[f"{name}{label} {b}"] = cell = {
                    "share": len(inside) / len(at),
                    "hit_rate": sum(r["hit"] for r in inside) / len(inside) if inside else 0.0,
                    "citation_precision": sum(r["cited_ok"] for r in inside) / cited if cited else 0.0,
                    "answer_removed_share": sum(band(r["support"], TUNED.sure_support) == b for r in rem_at)
                    / len(rem_at),
                }
                print(
                    f"{name}{label:22s} {b:8s} share {cell['share']:.3f}  hit {cell['hit_rate']:.3f}  "
                    f"precision {cell['citation_precision']:.3f}  answer-removed {cell['answer_removed_share']:.3f}"
                )
            overall = [rows[i] for i in at if rows[i]["confidence"] != "none"]
            cited = sum(r["cited"] for r in overall)
            results[f"{name}{label} answered"] = {
                "citation_precision": sum(r["cited_ok"] for r in overall) / cited if cited else 0.0
            }
    if out:
        out.write_text(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("choose")
    c.add_argument("removed", type=Path, nargs="+")
    r = sub.add_parser("report")
    r.add_argument("--eval", type=Path, nargs="+", required=True)
    r.add_argument("--removed", type=Path, nargs="+", required=True)
    r.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.command == "choose":
        choose(args.removed)
    else:
        report(args.eval, args.removed, args.json)


if __name__ == "__main__":
    main()
