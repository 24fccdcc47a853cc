"""How the gate's LM part was chosen (`rag.answer.GATE_LM_WEIGHT`, `GATE_LM_CAP`, `GATE_LM_OFFSET`),
from the per-question values `answer_removed.py --every 1` keeps, so no model runs here.

The gate compares support + weight x (min(lm_gain, cap) - offset) with `min_support`, where support
is the best evidence sentence's and lm_gain what the top passage adds to the question's likelihood
under the reranking LM. On the tuning third of each set (every third question from the first):
weight and cap are the grid's best mean ROC AUC of answerable against answer-removed questions over
both sets, and the offset (steps of 0.01) the largest that answers as many pooled answerable
questions at the default threshold as the sentence's support alone. Then, on the other two thirds
and on all questions: the shares answered, answered with a gold answer (hit rate) and refused
(answer-removed questions, and the other set's questions asked of this corpus) at each threshold,
for the support alone and with the LM part.

The JSON must come from a run before the LM part shipped, or hold `sentence_support` (runs since do),
so that "support alone" is the sentence's.

Usage: .venv/bin/python benchmarks/gate_mix.py benchmarks/results/piaf-fr-answer-removed-all.json \\
    benchmarks/results/squad-en-answer-removed-all.json [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from answer_removed import auc  # benchmarks/, the script's own folder
from eval_set import splits

from rag.answer import lm_adjusted
from rag.config import Config

WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)
CAPS = (3.0, 99.0)
THRESHOLDS = (0.3, Config.min_support, 0.4, 0.45, 0.5, 0.55)
Row = dict[str, Any]


def sentence(r: Row) -> float:
    value: float = r["sentence_support"] if "sentence_support" in r else r["support"]
    return value


def gated(r: Row, weight: float, cap: float, offset: float) -> float:
    """The shipped gate's value (`rag.answer.gate_support`) for one recorded question."""
    return lm_adjusted(sentence(r), r["lm_gain"], weight, cap, offset)


def part(per_question: dict[str, list[Row]], which: str) -> tuple[list[Row], list[Row], list[Row]]:
    """Answerable, answer-removed (those whose answer is really gone) and other-set rows of a part
    ("all", or one of `eval_set.splits`' labels without their brackets)."""
    suffix = "" if which == "all" else f" [{which}]"
    rows = splits(len(per_question["answerable"]), 1)[suffix]
    removed = [per_question["answer_removed"][i] for i in rows]
    return (
        [per_question["answerable"][i] for i in rows],
        [r for r in removed if not r["still_holds"]],
        per_question["other_set"],
    )


def shares(rows: tuple[list[Row], list[Row], list[Row]], passes: Callable[[Row], bool]) -> dict[str, float]:
    answerable, removed, other = rows
    return {
        "answered": sum(map(passes, answerable)) / len(answerable),
        "hit rate": sum(passes(r) and r["hit"] for r in answerable) / len(answerable),
        "refused (answer removed)": sum(not passes(r) for r in removed) / len(removed),
        "refused (other set)": sum(not passes(r) for r in other) / max(1, len(other)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="answer_removed.py --every 1 JSON, one per set")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sets = {
        p.name.split("-answer-removed")[0]: json.loads(p.read_text(encoding="utf-8"))["per_question"] for p in args.runs
    }
    tuning = {name: part(pq, "tuning third") for name, pq in sets.items()}

    def tuning_auc(weight: float, cap: float) -> float:
        aucs = [
            auc([gated(r, weight, cap, 0.0) for r in a], [gated(r, weight, cap, 0.0) for r in rm])
            for a, rm, _ in tuning.values()
        ]
        return sum(aucs) / len(aucs)

    grid = {(w, c): tuning_auc(w, c) for w in WEIGHTS for c in CAPS}
    for (w, c), value in grid.items():
        print(f"weight {w} cap {c}: mean AUC on the tuning thirds {value:.4f}")
    weight, cap = max(grid, key=lambda wc: (grid[wc], -wc[0], wc[1]))
    pooled = [r for a, _, _ in tuning.values() for r in a]
    t = Config.min_support
    target = sum(sentence(r) >= t for r in pooled)
    offset = max(k / 100 for k in range(400) if sum(gated(r, weight, cap, k / 100) >= t for r in pooled) >= target)
    print(f"chosen: weight {weight}, cap {cap}, offset {offset:.2f}")
    results: dict[str, Any] = {
        "weight": weight,
        "cap": cap,
        "offset": offset,
        "grid": {f"{w} {c}": v for (w, c), v in grid.items()},
    }
    for name, pq in sets.items():
        for which in ("all", "tuning third", "other two thirds"):
            rows = part(pq, which)
            for threshold in THRESHOLDS if which == "all" else (t,):
                for label, passes in (
                    ("support alone", lambda r, th=threshold: sentence(r) >= th),
                    ("with the LM part", lambda r, th=threshold: gated(r, weight, cap, offset) >= th),
                ):
                    m = shares(rows, passes)
                    key = f"{name} [{which}] min_support {threshold}, {label}"
                    results[key] = m
                    print(f"{key}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))
            a, rm, _ = rows
            for label, score in (
                ("support alone", sentence),
                ("with the LM part", lambda r: gated(r, weight, cap, offset)),
            ):
                value = auc([score(r) for r in a], [score(r) for r in rm])
                results[f"{name} [{which}] AUC, {label}"] = value
                print(f"{name} [{which}] AUC, {label}: {value:.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
