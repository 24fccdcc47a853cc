"""Which of the question's tokens should the reranking LM's score count? The shipped score is the mean
log-probability of every question token after the passage, so "Quel", "est" and "?" weigh as much as
the names and numbers that tell passages apart. Each variant here turns the same per-token
log-probabilities (`Reranker.token_logprobs`) into a passage score, using also each token's
log-probability with no passage (the prior: the template with an empty title and text):

- mean: the shipped score;
- surprisal-weighted: tokens weighted by their surprisal under the prior, -log p0(t);
- gain clipped: mean of max(0, log p(t | passage) - log p0(t)), what the passage explains;
- rare half: mean over the half of the tokens the prior finds least probable.

Each is mixed with the hybrid score as the pipeline does (`rerank.rerank`, `Config.rerank_weight`)
on the pipeline's pools (BM25's best 10 + the dense side's best 5). With `--every 1` each variant is
also measured on the tuning third and the other two thirds (benchmarks/eval_set.py).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rerank_tokens.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--every 3] [--json out.json] [--scores-cache FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import (  # benchmarks/, the script's own folder
    Pool,
    add_eval_set_options,
    open_eval_set,
    read_cache,
    record_retrieval,
    rerank_pools,
    write_cache,
)


def _mean(lp: Any, prior: Any) -> Any:
    return lp.mean(axis=1)


def _surprisal_weighted(lp: Any, prior: Any) -> Any:
    w = np.maximum(-prior, 1e-3)
    return (lp * w).sum(axis=1) / w.sum()


def _gain_clipped(lp: Any, prior: Any) -> Any:
    return np.maximum(lp - prior, 0.0).mean(axis=1)


def _rare_half(lp: Any, prior: Any) -> Any:
    keep = np.argsort(prior)[: max(1, (len(prior) + 1) // 2)]  # lowest prior log-probability first
    return lp[:, keep].mean(axis=1)


VARIANTS: dict[str, Callable[[Any, Any], Any]] = {
    "mean (shipped)": _mean,
    "surprisal-weighted": _surprisal_weighted,
    "gain clipped": _gain_clipped,
    "rare half": _rare_half,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=3)  # every third question: the ones choices are made on
    parser.add_argument("--scores-cache", type=Path, help="pickle of pools and token scores, reused")
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx, config = rag.current(), rag.config
    key = (str(args.corpus.resolve()), str(args.questions.resolve()), args.every, idx.version)
    pools: list[tuple[Pool, Any, Any]] = read_cache(args.scores_cache, key) or []
    if not pools:
        for pool in rerank_pools(rag, questions):
            text, lang = pool.question.question, pool.lang
            lp = rag.reranker.token_logprobs(text, pool.texts, lang=lang)
            prior = rag.reranker.token_logprobs(text, [("", "")], lang=lang)[0]
            pools.append((pool, lp, prior))
        write_cache(args.scores_cache, key, pools)
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "every": args.every}
    for label, score in VARIANTS.items():
        ranked = {}
        for pool, lp, prior in pools:
            ranked[pool.question.question] = pool.rerank(list(score(lp, prior)), weight=config.rerank_weight)
        record_retrieval(results, label, questions, ranked, args.every)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
