"""Would the reranker serve more questions a second if it scored two questions' candidates in one
batch? It scores one question at a time under its lock (throughput ~1.2-1.3 questions/s to 16
users, BENCHMARKS.md, Reliability), each call one batch of that question's ~12 candidates. Proxy for
a cross-question batch: each question is scored over its own pool, then over its pool followed by
the next question's (twice the rows, as two questions of the same length would make), after both
pools' keys and values are kept (as in a running app that has seen them); the time per scored
passage in each case says whether a bigger batch is cheaper per candidate. Optimistic for batching:
two real questions differ in length, and the shorter is padded.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rerank_batch.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--every 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import add_eval_set_options, open_eval_set, rerank_pools  # benchmarks/, the script's own folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=20)
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    pools = [p for p in rerank_pools(rag, questions) if p.reranked]
    reranker = rag.reranker
    single: list[float] = []  # ms per scored passage
    double: list[float] = []
    for p, nxt in zip(pools, pools[1:] + pools[:1], strict=True):
        # Both pools' keys and values kept first (all of them would not fit the shipped 512 MB on
        # squad-en, and recomputing them is not what a bigger batch would change).
        reranker.scores(p.question.question, p.texts + nxt.texts, lang=p.lang)
        for texts, out in ((p.texts, single), (p.texts + nxt.texts, double)):
            t = time.perf_counter()
            reranker.scores(p.question.question, texts, lang=p.lang)
            out.append((time.perf_counter() - t) * 1000 / len(texts))
    results = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "questions": len(pools),
        "passages_per_question": statistics.mean(len(p.texts) for p in pools),
        "ms_per_passage_own_pool_p50": statistics.median(single),
        "ms_per_passage_two_pools_p50": statistics.median(double),
        "ratio_two_to_one": statistics.median(double) / statistics.median(single),
    }
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
