"""Which sentences the extractive answerer quotes: hit rate and citation precision for several weights
of the passage rank in the quote score (`answer.quote_score`), shares of dense similarity in a
sentence's own match (`answer.QUOTE_DENSE_SHARE`, the rest lexical overlap), supports a second
sentence of the best one's passage needs (`answer.SECOND_SENTENCE_SUPPORT`) and weights of the
reranking LM in choosing the quoted passage's sentences (`answer.QUOTE_LM_WEIGHT`, 0: the quote score
alone), on the same retrieved passages.

Each question is retrieved once (hybrid + rerank, the default) and answered once per variant, so the
variants are compared on identical passages; the gate depends on neither setting (checked: every
variant answers the same questions). With `--every 1` each variant is also measured on the third of
the questions choices were made on and on the other two thirds (benchmarks/eval_set.py). With
`--hits-cache FILE` the retrieved passages are kept in FILE (a pickle this script writes: open only
your own) and read back by the next run over the same index, so more variants cost no retrieval.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/quote_choice.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--weights 0.3] [--dense-shares 0.5] \\
    [--supports 0.25 1.01] [--quote-lm-weights 0 1] [--every 1] [--hits-cache hits.pkl] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

from common import (
    add_eval_set_options,
    open_eval_set,
    read_cache,
    record,
    splits,
    write_cache,
)
from tqdm import tqdm

from rag.answer.extractive import answer_question
from rag.evaluation import answer_metrics
from rag.query import read_query
from rag.records import Answer, Hit
from rag.tuned import TUNED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    parser.add_argument(
        "--weights", type=float, nargs="+", default=[TUNED.quote_rank_weight], help="passage rank weights"
    )
    parser.add_argument(
        "--supports",
        type=float,
        nargs="+",
        default=[TUNED.second_sentence_support, 1.01],
        help="second-sentence supports (> 1: one sentence)",
    )
    parser.add_argument(
        "--dense-shares",
        type=float,
        nargs="+",
        default=[TUNED.quote_dense_share],
        help="dense similarity's shares of a sentence's match",
    )
    parser.add_argument(
        "--quote-lm-weights",
        type=float,
        nargs="+",
        default=[TUNED.quote_lm_weight],
        help="weights of the reranking LM's leave-one-out score in choosing the quoted passage's sentences (0: none)",
    )
    parser.add_argument("--hits-cache", type=Path, help="keep the retrieved passages here for the next run")
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx = rag.current()
    variants = list(itertools.product(args.weights, args.dense_shares, args.supports, args.quote_lm_weights))
    answers: dict[tuple[float, float, float, float], dict[str, Answer]] = {v: {} for v in variants}
    key = f"{args.corpus.resolve()} {idx.version}"
    cache: dict[str, list[Hit]] = read_cache(args.hits_cache, key) or {}
    for q in tqdm(questions, desc="questions", file=sys.stderr):
        if q.question not in cache:
            cache[q.question] = rag.search(q.question)
        hits = cache[q.question]
        query = read_query(q.question)
        for w, d, s, m in variants:
            tuned = replace(
                TUNED, quote_rank_weight=w, quote_dense_share=d, second_sentence_support=s, quote_lm_weight=m
            )
            answers[w, d, s, m][q.question] = answer_question(
                query,
                hits,
                idx,
                rag.embedder,
                rag.config.with_(tuned=tuned),
                threshold=rag.config.min_support,
                scorer=rag.quote_scorer(query, hits) if m else None,
            )
    write_cache(args.hits_cache, key, cache)
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "rerank": rag.config.rerank}
    parts = splits(len(questions), args.every)
    for w, d, s, lm in variants:
        for split, rows in parts.items():
            chosen = [answers[w, d, s, lm][questions[i].question] for i in rows]
            m = answer_metrics([questions[i] for i in rows], answers[w, d, s, lm].__getitem__)
            cites = [len(a.citations) for a in chosen if a.answered]
            m["questions"] = len(rows)
            m["citations_per_answer"] = sum(cites) / max(1, len(cites))
            m["answer_chars"] = sum(len(a.text) for a in chosen if a.answered) / max(1, len(cites))
            share = f", dense share {d}" if len(args.dense_shares) > 1 or d != TUNED.quote_dense_share else ""
            lm_part = f", quote LM weight {lm}" if len(args.quote_lm_weights) > 1 or lm != TUNED.quote_lm_weight else ""
            record(results, f"rank weight {w}{share}, second sentence support {s}{lm_part}{split}", m)
    answered = {v: {q for q, a in answers[v].items() if a.answered} for v in variants}
    assert all(a == answered[variants[0]] for a in answered.values()), "the gate must not depend on the variant"
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
