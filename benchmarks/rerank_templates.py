"""Which prompt the reranking LM reads: recall@1/5 and MRR@10 for several templates around the
passage and the question, on the same candidate pools (the pipeline's: BM25's best 10 + the dense
side's best 5) and the same mix (`rerank.rerank`, `Config.rerank_weight`).

Each template scores every candidate once; "+" variants add two templates' z-scores (an ensemble,
twice the cost). With `--every 1` each variant is also measured on the third of the questions the
choices are made on and on the other two thirds (benchmarks/eval_set.py).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rerank_templates.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--every 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import (  # benchmarks/, the script's own folder
    add_eval_set_options,
    open_eval_set,
    record_retrieval,
    rerank_pools,
)

from rag import rerank as reranking
from rag.records import Hit, Lang

# Per language: (passage prefix, question suffix), as `rerank.TEMPLATES`.
TEMPLATES: dict[str, dict[Lang, tuple[str, str]]] = {
    "shipped": dict(reranking.TEMPLATES),
    "instruction (UPR)": {
        "fr": ("Passage : {title}\n{text}\nÉcrivez une question sur ce passage.\nQuestion :", " {question}"),
        "en": ("Passage: {title}\n{text}\nPlease write a question based on this passage.\nQuestion:", " {question}"),
    },
    "title / text fields": {
        "fr": ("Titre : {title}\nTexte : {text}\nQuestion :", " {question}"),
        "en": ("Title: {title}\nText: {text}\nQuestion:", " {question}"),
    },
}
ENSEMBLES = [("shipped", "instruction (UPR)"), ("shipped", "title / text fields")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=3)  # every third question: the ones choices are made on
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    config = rag.config
    labels = list(TEMPLATES) + [" + ".join(pair) for pair in ENSEMBLES]
    ranked: dict[str, dict[str, list[Hit]]] = {label: {} for label in labels}
    for pool in rerank_pools(rag, questions):
        q, lang = pool.question.question, pool.lang
        scores = {
            name: reranking.zscores(rag.reranker.scores(q, pool.texts, lang=lang, template=template[lang]))
            for name, template in TEMPLATES.items()
        }
        for name in TEMPLATES:
            ranked[name][q] = pool.rerank(list(scores[name]), weight=config.rerank_weight)
        for a, b in ENSEMBLES:
            ranked[f"{a} + {b}"][q] = pool.rerank(list(scores[a] + scores[b]), weight=config.rerank_weight)
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "every": args.every}
    for label in labels:
        record_retrieval(results, label, questions, ranked[label], args.every)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
