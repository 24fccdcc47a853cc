"""The reranking LM's output layer, timed on real questions. A passage's score is the mean
log P(question token | passage), and log P = logit - logsumexp over Gemma's 262,144 words: once the
passages' keys and values are kept, that product is most of what a question costs. `Reranker._logprobs`
runs it slice by slice of the vocabulary (`rerank.VOCAB_SLICE` words at a time), so that each slice's
logits stay in the processor's cache from the product to their logsumexp; one slice of 262,144 is
the whole layer at once (how it ran before).

For each question's pool (the pipeline's: BM25 10 + dense 5) the hidden states are computed once,
then the output layer is run on them with each slice size in turn, `--repeats` times; reported per
size: the median time over the questions, and the largest difference from the whole-vocabulary
log-probabilities (float summation order only: the arithmetic is the same).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/output_layer.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--every 6] [--slices 262144 16384 8192 4096] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import add_eval_set_options, open_eval_set, rerank_pools  # benchmarks/

from rag import rerank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=6)
    parser.add_argument("--slices", type=int, nargs="+", default=[262144, 32768, 16384, 8192, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    rag, questions = open_eval_set(args)
    reranker = rag.reranker
    logprobs = reranker._logprobs
    captured: dict[str, Any] = {}

    def capture(hidden: Any, q_ids: list[int]) -> Any:
        captured.update(hidden=hidden.clone(), q_ids=q_ids)
        return logprobs(hidden, q_ids)

    reranker._logprobs = capture  # type: ignore[method-assign]
    seconds: dict[int, list[float]] = {n: [] for n in args.slices}
    worst = dict.fromkeys(args.slices, 0.0)
    shipped = rerank.VOCAB_SLICE
    rows = []
    for pool in rerank_pools(rag, questions):
        if not pool.reranked:
            continue
        reranker.token_logprobs(pool.question.question, pool.texts, lang=pool.lang)  # fills `captured`
        hidden, q_ids = captured["hidden"], captured["q_ids"]
        rows.append(hidden.shape[0] * hidden.shape[1])
        results = {}
        with torch.inference_mode():
            for _ in range(args.repeats):
                for n in args.slices:  # in turn, so that the machine's drift falls on every size alike
                    rerank.VOCAB_SLICE = n
                    t = time.perf_counter()
                    results[n] = logprobs(hidden, q_ids)
                    seconds[n].append(time.perf_counter() - t)
        whole = results[max(args.slices)]
        for n in args.slices:
            worst[n] = max(worst[n], float(abs(results[n] - whole).max()))
    rerank.VOCAB_SLICE = shipped
    out: dict[str, object] = {
        "corpus": str(args.corpus),
        "questions": len(questions),
        "reranked": len(rows),
        "positions p50": statistics.median(rows) if rows else 0,
        "shipped slice": shipped,
    }
    for n in args.slices:
        out[f"slice {n}"] = {"ms p50": 1000 * statistics.median(seconds[n]), "largest difference": worst[n]}
        print(f"slice {n}: {out[f'slice {n}']}")
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
