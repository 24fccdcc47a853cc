"""Would a sentence-level signal help the reranker? Each candidate passage's best sentence, by the
answerer's idf-weighted stem overlap with the question and by dense similarity
(`answer.select_evidence` on that passage alone), is z-scored and added to the shipped mix
(0.7 LM + 0.3 hybrid, `rerank.rerank`) at several weights; recall@1/5 and MRR@10 on the same pools
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
from typing import Any

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import add_eval_set_options, open_eval_set, record, splits  # benchmarks/, the script's own folder

from rag.answer import select_evidence
from rag.evaluation import contains_answer
from rag.lang import detect_lang
from rag.retrieve import rerank_pool

K = 10
# (overlap weight, dense weight) added to the shipped mix
VARIANTS = [(0.0, 0.0), (0.1, 0.0), (0.2, 0.0), (0.3, 0.0), (0.4, 0.0), (0.5, 0.0), (0.3, 0.1), (0.5, 0.1)]


def _z(values: list[float]) -> Any:
    x = np.asarray(values, dtype=float)
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx, config = rag.current(), rag.config
    pools: list[dict[str, list[Any]]] = []
    for q in tqdm(questions, desc="questions", file=sys.stderr):
        lang = detect_lang(q.question)
        hits = rerank_pool(idx, rag.embedder, q.question, k=K, config=config, lang=lang)
        texts = [(idx.documents[h.chunk.doc_id].title, h.chunk.text) for h in hits]
        best = [select_evidence(q.question, [h], idx, rag.embedder, lang) for h in hits]
        pools.append(
            {
                "gold": [contains_answer(h.chunk.text, q.answers) for h in hits],
                "hybrid": [h.score for h in hits],
                "lm": rag.reranker.scores(q.question, texts, lang=lang),
                "overlap": [max((e.overlap for e in ev), default=0.0) for ev in best],
                "dense": [max((e.dense for e in ev), default=0.0) for ev in best],
            }
        )
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "every": args.every}
    for wo, wd in VARIANTS:
        firsts = []
        for p in pools:
            if len(p["gold"]) < 2:
                order = list(range(len(p["gold"])))
            else:
                lm_weight = config.rerank_weight
                mixed = lm_weight * _z(p["lm"]) + (1 - lm_weight) * _z(p["hybrid"])
                mixed = mixed + wo * _z(p["overlap"]) + wd * _z(p["dense"])
                order = sorted(range(len(mixed)), key=lambda i: (-mixed[i], i))
            firsts.append(next((r for r, i in enumerate(order[:K], 1) if p["gold"][i]), None))
        for split, rows in splits(len(pools), args.every).items():
            fs = [firsts[i] for i in rows]
            n = max(1, len(fs))
            record(
                results,
                f"overlap {wo}, dense {wd}{split}",
                {
                    "recall@1": sum(f == 1 for f in fs) / n,
                    "recall@5": sum(bool(f and f <= 5) for f in fs) / n,
                    "mrr@10": sum(1 / f for f in fs if f) / n,
                },
            )
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
