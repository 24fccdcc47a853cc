"""How the gate's fitted constants were chosen, from per-question values the model-running scripts
kept (`answer_removed.py`, `crosslingual.py`), so no model runs here. Two parts:

`same-language`: How the gate's LM part was chosen (`Tuned.gate_lm_weight`, `gate_lm_cap`, `gate_lm_offset`),
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

Usage: .venv/bin/python benchmarks/gate_calibration.py same-language \\
    benchmarks/results/piaf-fr-answer-removed-all.json benchmarks/results/squad-en-answer-removed-all.json \\
    [--json out.json]

`cross-language`: How the gate's cross-language LM part was chosen (`Tuned.gate_cross_lm_weight`,
`gate_cross_lm_offset`), from recorded per-question values, so no model runs here.

A question in one language about passages in the other (`crosslingual.crosses_languages`) gets a low
sentence support whatever the passage says, so the gate reads support + weight x (min(lm_gain, 3) -
offset) with a weight of its own there. Answerable: the translated questions of
`crosslingual.py --json` (English about French articles, French about English ones). Unanswerable:
the other set's questions of `answer_removed.py --every 1 --json` (the English set's questions asked
of the French corpus and the reverse: all cross-language too). On the tuning half (every other
question of each, from the first): the weight with the best ROC AUC, then the largest offset (steps
of 0.01) that still answers 90% of the tuning half's answerable questions at the default threshold.
On the other half and on all: answered, hit rate (answered with a gold answer) and refused, for the
same-language gate (`Tuned.gate_lm_weight`, `gate_lm_offset`: what these questions got before) and the
cross-language one.

Usage: .venv/bin/python benchmarks/gate_calibration.py cross-language \\
    benchmarks/results/crosslingual-public-corpora.json \\
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

from answer_removed import auc
from common import splits

from rag.answer.gate import lm_adjusted
from rag.config import Config
from rag.tuned import TUNED

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


def same_language(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="answer_removed.py --every 1 JSON, one per set")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
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


CROSS_WEIGHTS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
ANSWERED = 0.90


def value(r: Row, weight: float, offset: float) -> float:
    return gated(r, weight, TUNED.gate_lm_cap, offset)


def passing(gate: Callable[[Row], float], threshold: float) -> Callable[[Row], bool]:
    return lambda r: gate(r) >= threshold


def cross_shares(answerable: list[Row], unanswerable: list[Row], passes: Callable[[Row], bool]) -> dict[str, float]:
    return {
        "answered": sum(map(passes, answerable)) / len(answerable),
        "hit rate": sum(passes(r) and r["hit_if_answered"] for r in answerable) / len(answerable),
        "refused": sum(not passes(r) for r in unanswerable) / len(unanswerable),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }


def cross_language(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("crosslingual", type=Path, help="crosslingual.py --json output")
    parser.add_argument("runs", type=Path, nargs="+", help="answer_removed.py --every 1 JSON, one per set")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    answerable = json.loads(args.crosslingual.read_text(encoding="utf-8"))["per_question"]["translated"]
    assert all(r["cross"] for r in answerable), "a translated question did not cross languages"
    other = [r for p in args.runs for r in json.loads(p.read_text(encoding="utf-8"))["per_question"]["other_set"]]
    parts = {
        "tuning half": (answerable[0::2], other[0::2]),
        "other half": (answerable[1::2], other[1::2]),
        "all": (answerable, other),
    }
    tune_a, tune_u = parts["tuning half"]
    grid = {w: auc([value(r, w, 0.0) for r in tune_a], [value(r, w, 0.0) for r in tune_u]) for w in CROSS_WEIGHTS}
    for w, a in grid.items():
        print(f"weight {w}: AUC on the tuning half {a:.4f}")
    weight = max(grid, key=lambda w: (grid[w], -w))
    t = Config.min_support
    need = ANSWERED * len(tune_a)
    offset = max(k / 100 for k in range(-300, 300) if sum(value(r, weight, k / 100) >= t for r in tune_a) >= need)
    print(f"chosen: weight {weight}, offset {offset:.2f}")
    results: dict[str, Any] = {"weight": weight, "offset": offset, "grid": {str(w): a for w, a in grid.items()}}
    gates: dict[str, Callable[[Row], float]] = {
        "same-language gate (before)": lambda r: value(r, TUNED.gate_lm_weight, TUNED.gate_lm_offset),
        "cross-language gate": lambda r: value(r, weight, offset),
        "sentence support alone": sentence,
    }
    for which, (a, u) in parts.items():
        for label, gate in gates.items():
            m = cross_shares(a, u, passing(gate, t))
            m["AUC"] = auc([gate(r) for r in a], [gate(r) for r in u])
            results[f"[{which}] {label}"] = m
            print(f"[{which}] {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    parts = {"same-language": same_language, "cross-language": cross_language}
    if len(sys.argv) < 2 or sys.argv[1] not in parts:
        raise SystemExit(f"usage: gate_calibration.py {{{'|'.join(parts)}}} JSON... [--json OUT]")
    parts[sys.argv[1]](sys.argv[2:])
