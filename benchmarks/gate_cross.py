"""How the gate's cross-language LM part was chosen (`rag.answer.GATE_CROSS_LM_WEIGHT`,
`GATE_CROSS_LM_OFFSET`), from recorded per-question values, so no model runs here.

A question in one language about passages in the other (`answer.crosses_languages`) gets a low
sentence support whatever the passage says, so the gate reads support + weight x (min(lm_gain, 3) -
offset) with a weight of its own there. Answerable: the translated questions of
`crosslingual.py --json` (English about French articles, French about English ones). Unanswerable:
the other set's questions of `answer_removed.py --every 1 --json` (the English set's questions asked
of the French corpus and the reverse: all cross-language too). On the tuning half (every other
question of each, from the first): the weight with the best ROC AUC, then the largest offset (steps
of 0.01) that still answers 90% of the tuning half's answerable questions at the default threshold.
On the other half and on all: answered, hit rate (answered with a gold answer) and refused, for the
same-language gate (`GATE_LM_WEIGHT`, `GATE_LM_OFFSET`: what these questions got before) and the
cross-language one.

Usage: .venv/bin/python benchmarks/gate_cross.py benchmarks/results/crosslingual-public-corpora.json \\
    benchmarks/results/piaf-fr-answer-removed-all.json benchmarks/results/squad-en-answer-removed-all.json \\
    [--json benchmarks/results/gate-cross.json]
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
from gate_mix import gated, sentence

from rag.answer import GATE_LM_CAP, GATE_LM_OFFSET, GATE_LM_WEIGHT
from rag.config import Config

WEIGHTS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
ANSWERED = 0.90
Row = dict[str, Any]


def value(r: Row, weight: float, offset: float) -> float:
    return gated(r, weight, GATE_LM_CAP, offset)


def passing(gate: Callable[[Row], float], threshold: float) -> Callable[[Row], bool]:
    return lambda r: gate(r) >= threshold


def shares(answerable: list[Row], unanswerable: list[Row], passes: Callable[[Row], bool]) -> dict[str, float]:
    return {
        "answered": sum(map(passes, answerable)) / len(answerable),
        "hit rate": sum(passes(r) and r["hit_if_answered"] for r in answerable) / len(answerable),
        "refused": sum(not passes(r) for r in unanswerable) / len(unanswerable),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("crosslingual", type=Path, help="crosslingual.py --json output")
    parser.add_argument("runs", type=Path, nargs="+", help="answer_removed.py --every 1 JSON, one per set")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    answerable = json.loads(args.crosslingual.read_text(encoding="utf-8"))["per_question"]["translated"]
    assert all(r["cross"] for r in answerable), "a translated question did not cross languages"
    other = [r for p in args.runs for r in json.loads(p.read_text(encoding="utf-8"))["per_question"]["other_set"]]
    parts = {
        "tuning half": (answerable[0::2], other[0::2]),
        "other half": (answerable[1::2], other[1::2]),
        "all": (answerable, other),
    }
    tune_a, tune_u = parts["tuning half"]
    grid = {w: auc([value(r, w, 0.0) for r in tune_a], [value(r, w, 0.0) for r in tune_u]) for w in WEIGHTS}
    for w, a in grid.items():
        print(f"weight {w}: AUC on the tuning half {a:.4f}")
    weight = max(grid, key=lambda w: (grid[w], -w))
    t = Config.min_support
    need = ANSWERED * len(tune_a)
    offset = max(k / 100 for k in range(-300, 300) if sum(value(r, weight, k / 100) >= t for r in tune_a) >= need)
    print(f"chosen: weight {weight}, offset {offset:.2f}")
    results: dict[str, Any] = {"weight": weight, "offset": offset, "grid": {str(w): a for w, a in grid.items()}}
    gates: dict[str, Callable[[Row], float]] = {
        "same-language gate (before)": lambda r: value(r, GATE_LM_WEIGHT, GATE_LM_OFFSET),
        "cross-language gate": lambda r: value(r, weight, offset),
        "sentence support alone": sentence,
    }
    for which, (a, u) in parts.items():
        for label, gate in gates.items():
            m = shares(a, u, passing(gate, t))
            m["AUC"] = auc([gate(r) for r in a], [gate(r) for r in u])
            results[f"[{which}] {label}"] = m
            print(f"[{which}] {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
