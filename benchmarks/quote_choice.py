"""Which sentences the extractive answerer quotes: hit rate and citation precision for several weights
of the passage rank in the quote score (`answer.quote_score`) and several supports a second sentence
of the best one's passage needs (`answer.SECOND_SENTENCE_SUPPORT`), on the same retrieved passages.

Each question is retrieved once (hybrid + rerank, the default) and answered once per variant, so the
variants are compared on identical passages; the gate depends on neither setting (checked: every
variant answers the same questions). With `--every 1` each variant is also measured on the third of
the questions choices were made on and on the other two thirds (benchmarks/eval_set.py).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/quote_choice.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--weights 0.3] \\
    [--supports 0.25 1.01] [--every 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import add_eval_set_options, open_eval_set, record, splits  # benchmarks/, the script's own folder

from rag.answer import answer_question
from rag.evaluation import answer_metrics
from rag.records import Answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.3], help="passage rank weights")
    parser.add_argument(
        "--supports", type=float, nargs="+", default=[0.25, 1.01], help="second-sentence supports (> 1: one sentence)"
    )
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx = rag.current()
    variants = [(w, s) for w in args.weights for s in args.supports]
    answers: dict[tuple[float, float], dict[str, Answer]] = {v: {} for v in variants}
    for q in tqdm(questions, desc="questions", file=sys.stderr):
        hits = rag.search(q.question)
        for w, s in variants:
            answers[w, s][q.question] = answer_question(
                q.question, hits, idx, rag.embedder, rank_weight=w, second_support=s
            )
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "rerank": rag.config.rerank}
    parts = splits(len(questions), args.every)
    for w, s in variants:
        for split, rows in parts.items():
            chosen = [answers[w, s][questions[i].question] for i in rows]
            m = answer_metrics([questions[i] for i in rows], answers[w, s].__getitem__)
            cites = [len(a.citations) for a in chosen if a.answered]
            m["questions"] = len(rows)
            m["citations_per_answer"] = sum(cites) / max(1, len(cites))
            m["answer_chars"] = sum(len(a.text) for a in chosen if a.answered) / max(1, len(cites))
            record(results, f"rank weight {w}, second sentence support {s}{split}", m)
    answered = {v: {q for q, a in answers[v].items() if a.answered} for v in variants}
    assert all(a == answered[variants[0]] for a in answered.values()), "the gate must not depend on the variant"
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
