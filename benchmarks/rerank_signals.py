"""Would a sentence-level signal help the reranker? Each candidate passage's best sentence, by the
answerer's idf-weighted stem overlap with the question and by dense similarity
(`answer.select_evidence` on that passage alone), is z-scored and added to the shipped mix
(0.7 LM + 0.3 hybrid, `rerank.rerank`) at several weights; recall@k and MRR@10 on the same pools
and LM scores (weight 0 is the shipped order). With `--every 1` (the default) each variant is also
measured on the tuning third and the other two thirds (benchmarks/eval_set.py).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rerank_signals.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import (  # benchmarks/, the script's own folder
    K,
    Pool,
    add_eval_set_options,
    open_eval_set,
    record_retrieval,
    rerank_pools,
)

from rag.answer import select_evidence
from rag.rerank import zscores

# (overlap weight, dense weight) added to the shipped mix
VARIANTS = [(0.0, 0.0), (0.1, 0.0), (0.2, 0.0), (0.3, 0.0), (0.4, 0.0), (0.5, 0.0), (0.3, 0.1), (0.5, 0.1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx, config = rag.current(), rag.config
    pools: list[tuple[Pool, dict[str, list[float]]]] = []
    for pool in rerank_pools(rag, questions):
        q, hits = pool.question, pool.hits
        best = [select_evidence(q.question, [h], idx, rag.embedder, pool.lang) for h in hits]
        signals = {
            "hybrid": [h.score for h in hits],
            "lm": rag.reranker.scores(q.question, pool.texts, lang=pool.lang),
            "overlap": [max((e.overlap for e in ev), default=0.0) for ev in best],
            "dense": [max((e.dense for e in ev), default=0.0) for ev in best],
        }
        pools.append((pool, signals))
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "every": args.every}
    w = config.rerank_weight
    for wo, wd in VARIANTS:
        ranked = {}
        for pool, p in pools:
            hits = pool.hits
            order = list(range(len(hits)))
            if pool.reranked:
                mixed = w * zscores(p["lm"]) + (1 - w) * zscores(p["hybrid"])
                mixed = mixed + wo * zscores(p["overlap"]) + wd * zscores(p["dense"])
                order.sort(key=lambda i: (-mixed[i], i))
            ranked[pool.question.question] = [hits[i] for i in order[:K]]
        record_retrieval(results, f"overlap {wo}, dense {wd}", questions, ranked, args.every)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
