"""Choosing the passage to quote by its reranked score's distance from the best one instead of its
rank: the quote score's passage term `rank_weight / rank` (`answer.quote_score`) against
`a x (score - best score)`, on the passages `quote_choice.py --hits-cache FILE` kept (run it first,
with the same corpus and questions). Not shipped (BENCHMARKS.md, "Which passage to quote by its
score").

A quote holds a gold answer when one of the sentences chosen does (an answer whose gold string spans
two quoted sentences would be missed); the shipped rule's row reproduces `quote_choice.py`'s hit
rate and citation precision, which checks that proxy. The gate answers the same questions for every
variant (it does not read the quote score).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/quote_margin.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl --hits-cache hits.pkl [--json out.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import kept_hits_from_command_line, record, splits  # benchmarks/

from rag.answer import (
    QUOTE_RANK_WEIGHT,
    SECOND_SENTENCE_SUPPORT,
    Evidence,
    question_gate,
    quote_score,
    select_evidence,
    support,
)
from rag.evaluation import contains_answer
from rag.lang import detect_lang
from rag.records import Hit

VARIANTS = [("rank", w) for w in (0.1, QUOTE_RANK_WEIGHT, 0.5)] + [("score", a) for a in (0.05, 0.1, 0.2, 0.3, 0.5)]


def chosen(evidence: list[Evidence], hits: list[Hit], kind: str, a: float) -> list[Evidence]:
    """The sentences quoted under one variant: the best, and the best other of its passage when its
    support reaches `SECOND_SENTENCE_SUPPORT` (the same-language rule; every question here is)."""
    top = max(h.score for h in hits)

    def score(ev: Evidence) -> float:
        return quote_score(ev, a) if kind == "rank" else quote_score(ev, 0.0) + a * (ev.hit.score - top)

    order = sorted(evidence, key=lambda ev: -score(ev))
    same = [ev for ev in order[1:] if ev.hit.chunk.chunk_id == order[0].hit.chunk.chunk_id]
    return order[:1] + [ev for ev in same if support(ev) >= SECOND_SENTENCE_SUPPORT][:1]


def main() -> None:
    args, rag, questions, cache = kept_hits_from_command_line(__doc__.split("\n\n")[0])
    idx = rag.current()
    rows = []  # per question: (answered, {variant: (holds a gold answer, [citation precise?])})
    for q in questions:
        hits = cache[q.question]
        lang = detect_lang(q.question)
        evidence = select_evidence(q.question, hits, idx, rag.embedder, lang)
        answered = bool(evidence) and question_gate(support(evidence[0]), hits, idx, lang) >= rag.config.min_support
        out = {}
        for kind, a in VARIANTS:
            picked = chosen(evidence, hits, kind, a) if answered else []
            out[kind, a] = (
                any(contains_answer(ev.text, q.answers) for ev in picked),
                [contains_answer(ev.hit.chunk.text, q.answers) for ev in picked],
            )
        rows.append(out)
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions)}
    for kind, a in VARIANTS:
        for split, positions in splits(len(questions), args.every).items():
            cited = [ok for i in positions for ok in rows[i][kind, a][1]]
            metrics = {
                "hit_rate": sum(rows[i][kind, a][0] for i in positions) / len(positions),
                "citation_precision": sum(cited) / max(1, len(cited)),
            }
            record(results, f"{kind} {a}{split}", metrics)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
