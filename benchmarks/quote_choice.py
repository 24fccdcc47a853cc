"""Which sentences the extractive answerer quotes: hit rate and citation precision for several weights
of the passage rank in the quote score (`answer.quote_score`), on the same retrieved passages.

Each question is retrieved once (hybrid + rerank, the default) and answered once per weight, so the
weights are compared on identical passages; the gate does not depend on the weight (checked: every
weight answers the same questions).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/quote_choice.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--weights 0.1 0.3] [--every 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import add_eval_set_options, open_eval_set  # benchmarks/, the script's own folder

from rag.answer import answer_question
from rag.evaluation import answer_metrics
from rag.records import Answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.1, 0.3])
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx = rag.current()
    answers: dict[float, dict[str, Answer]] = {w: {} for w in args.weights}
    for q in tqdm(questions, desc="questions", file=sys.stderr):
        hits = rag.search(q.question)
        for w in args.weights:
            answers[w][q.question] = answer_question(q.question, hits, idx, rag.embedder, rank_weight=w)
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "rerank": rag.config.rerank}
    for w in args.weights:
        m = answer_metrics(questions, answers[w].__getitem__)
        cites = [len(a.citations) for a in answers[w].values() if a.answered]
        m["citations_per_answer"] = sum(cites) / max(1, len(cites))
        m["answer_chars"] = sum(len(a.text) for a in answers[w].values() if a.answered) / max(1, len(cites))
        for key in ("answer_ms_p50", "answer_ms_p95"):  # the answers were precomputed: no latency here
            m.pop(key)
        results[f"rank_weight={w}"] = m
        print(f"rank weight {w}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))
    answered = {w: {q for q, a in answers[w].items() if a.answered} for w in args.weights}
    assert all(s == answered[args.weights[0]] for s in answered.values()), "the gate must not depend on the weight"
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
