"""Which passages the reranker reorders, and how much its score weighs: recall@k, MRR@10 and the
number of passages scored, for candidate pools (the hybrid top n, or BM25's best a with the dense
side's best b, `retrieve.rerank_pool`) and language-model weights, all on the same questions.

Each (question, passage) pair is scored by the reranking LM once, whatever the number of variants
that hold it (scores do not depend on the batch: tests/test_rerank.py); the order is then
`rerank.rerank`, as in the pipeline.

With `--every 1` each variant is also measured on the two splits: the third of the questions the
choices were made on (every third, from the first) and the other two thirds, which check them.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rerank_pool.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--every 3] [--only "dense 5,"] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from common import add_eval_set_options, open_eval_set, record, splits
from tqdm import tqdm

from rag.evaluation import retrieval_metrics
from rag.query import read_query
from rag.records import Hit
from rag.search.hybrid import rerank_pool, search
from rag.search.rerank import passages, rerank

# (label, pool, LM weight); a pool is (hybrid top n, 0, 0) or (0, BM25's best a, the dense side's best b).
VARIANTS: list[tuple[str, tuple[int, int, int], float]] = [
    ("hybrid top 15, weight 0.7 (before)", (15, 0, 0), 0.7),
    ("hybrid top 15, weight 1.0 (LM alone)", (15, 0, 0), 1.0),
    ("lexical 10 + dense 3, weight 0.7", (0, 10, 3), 0.7),
    ("lexical 10 + dense 5, weight 0.7 (kept)", (0, 10, 5), 0.7),
    ("lexical 15 + dense 5, weight 0.7", (0, 15, 5), 0.7),
    ("lexical 10 + dense 5, weight 0.6", (0, 10, 5), 0.6),
    ("lexical 10 + dense 5, weight 0.8", (0, 10, 5), 0.8),
    ("lexical 10 + dense 5, weight 0.9", (0, 10, 5), 0.9),
    ("lexical 10 + dense 5, weight 1.0", (0, 10, 5), 1.0),
]
K = 10  # the harness's depth (recall@10, MRR@10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=3)  # every third question: the ones choices are made on
    parser.add_argument("--only", default="", help="only the variants whose label contains this")
    args = parser.parse_args()
    variants = [v for v in VARIANTS if args.only in v[0]]
    if not variants:
        parser.error(f"no variant label contains {args.only!r}; labels: {[v[0] for v in VARIANTS]}")
    rag, questions = open_eval_set(args)
    idx, config = rag.current(), rag.config
    ranked: dict[str, dict[str, list[Hit]]] = {label: {} for label, _, _ in variants}
    pool_sizes: dict[str, list[int]] = {label: [] for label, _, _ in variants}
    for q in tqdm(questions, desc="questions", file=sys.stderr):
        pools = {}
        query = read_query(q.question)
        for label, (top, lexical, dense), _ in variants:
            if top:
                pools[label] = search(idx, rag.embedder, query, k=max(K, top), config=config)
            else:
                c = config.with_(tuned=replace(config.tuned, rerank_lexical=lexical, rerank_dense=dense))
                pools[label] = rerank_pool(idx, rag.embedder, query, k=K, config=c)
        chunks = {h.chunk.chunk_id: h.chunk for hits in pools.values() for h in hits}  # each passage once
        texts = passages(chunks.values())
        lm = dict(zip(chunks, rag.reranker.scores(query.search_text, texts, lang=query.lang), strict=True))
        for label, _, weight in variants:
            hits = pools[label]
            ranked[label][q.question] = rerank(hits, [lm[h.chunk.chunk_id] for h in hits], weight=weight, k=K)
            pool_sizes[label].append(len(hits))
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "every": args.every}
    parts = splits(len(questions), args.every)
    for label, _, _ in variants:
        for split, rows in parts.items():
            m = retrieval_metrics([questions[i] for i in rows], ranked[label].__getitem__)
            m["passages_scored"] = sum(pool_sizes[label][i] for i in rows) / max(1, len(rows))
            record(results, label + split, m)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
