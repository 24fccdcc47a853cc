"""Would the reranking LM order better if it read each candidate with some of the text around it?
Where the reranked first passage misses on piaf-fr, it is often the answering chunk's neighbour:
the question's words on one side of a chunk boundary, the answer on the other (chunk_size.py's
notes in BENCHMARKS.md). Each candidate is scored by the LM as shipped (its own text) and with up to
`--context-chars` characters of its document before it, after it, or both (cut at a word boundary);
the returned passage is the chunk either way, so only the order changes. Variants mix those scores
into the shipped mix (0.7 LM + 0.3 hybrid, `rerank.rerank`); recall@k and MRR@10 on the same pools.
The LM reads longer passages: the script prints its scoring time per question for each reading.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rerank_context.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--context-chars 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import (  # benchmarks/, the script's own folder
    Pool,
    add_eval_set_options,
    open_eval_set,
    record_retrieval,
    rerank_pools,
)

from rag.records import Chunk, Document
from rag.rerank import zscores

READINGS = ("own", "before", "after", "both")


def window(doc: Document, chunk: Chunk, reading: str, chars: int) -> str:
    """The chunk's text with up to `chars` characters of its document before and/or after it, cut
    where a word starts or ends."""
    text, start, end = doc.text, chunk.start, chunk.end
    if reading in ("before", "both") and start > 0:
        cut = max(0, start - chars)
        space = text.find(" ", cut, start)
        start = cut if cut == 0 or space < 0 else space + 1
    if reading in ("after", "both") and end < len(text):
        cut = min(len(text), end + chars)
        space = text.rfind(" ", end, cut)
        end = cut if cut == len(text) or space < 0 else space
    return text[start:end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=3)
    parser.add_argument("--context-chars", type=int, default=300)
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx, config = rag.current(), rag.config
    pools: list[tuple[Pool, dict[str, list[float]]]] = []
    seconds = dict.fromkeys(READINGS, 0.0)
    for pool in rerank_pools(rag, questions):
        scores: dict[str, list[float]] = {}
        for reading in READINGS:
            texts = [
                (title, window(idx.documents[h.chunk.doc_id], h.chunk, reading, args.context_chars))
                for (title, _), h in zip(pool.texts, pool.hits, strict=True)
            ]
            t0 = time.perf_counter()
            scores[reading] = rag.reranker.scores(pool.question.question, texts, lang=pool.lang)
            seconds[reading] += time.perf_counter() - t0
        pools.append((pool, scores))
    n = max(1, len(pools))
    results: dict[str, object] = {
        "corpus": str(args.corpus),
        "questions": len(questions),
        "every": args.every,
        "context_chars": args.context_chars,
        "lm_seconds_per_question": {r: seconds[r] / n for r in READINGS},
    }
    print("LM seconds per question: " + ", ".join(f"{r} {seconds[r] / n:.2f}" for r in READINGS))
    variants = {
        "own text (shipped)": lambda s: zscores(s["own"]),
        "with text before": lambda s: zscores(s["before"]),
        "with text after": lambda s: zscores(s["after"]),
        "with text both sides": lambda s: zscores(s["both"]),
        "own + before": lambda s: zscores(s["own"]) + zscores(s["before"]),
        "own + after": lambda s: zscores(s["own"]) + zscores(s["after"]),
        "own + both": lambda s: zscores(s["own"]) + zscores(s["both"]),
        "max(own, before)": lambda s: np.maximum(zscores(s["own"]), zscores(s["before"])),
    }
    for label, score in variants.items():
        ranked = {p.question.question: p.rerank(list(score(s)), weight=config.rerank_weight) for p, s in pools}
        record_retrieval(results, label, questions, ranked, args.every)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
