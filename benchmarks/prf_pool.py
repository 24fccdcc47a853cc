"""Pseudo-relevance feedback (RM3-style) on BM25: would the reranker's candidates hold more answers?

The query is expanded with the `--fb-terms` words that weigh most (term frequency x idf, weighted by
each passage's BM25 score) in BM25's best `--fb-docs` passages; the expanded score is
(1 - alpha) x the query's mean term score + alpha x the expansion words' weighted score. Reported:
the share of questions whose answer is among the candidates (no language model involved) and the
candidates per question, for the shipped pool (BM25 10 + dense 5), the same pool with BM25 15, the
pool with the expanded query's BM25 10 in place of BM25's, and the shipped pool plus the expanded
query's best `extra` passages not already in it.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/prf_pool.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--json OUT]   # under a minute
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import add_eval_set_options, open_eval_set, splits  # benchmarks/, the script's own folder

from rag.evaluation import contains_answer
from rag.index import retrieval_text
from rag.lang import detect_lang, query_stems
from rag.lexical import passage_terms
from rag.retrieve import _rank

DEPTH = 40  # how deep each ranking is read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    parser.add_argument("--fb-docs", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--fb-terms", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.3, 0.5])
    parser.add_argument("--extras", type=int, nargs="+", default=[0, 3, 5], help="0: replace BM25's 10")
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx, c = rag.current(), rag.config
    bm25 = idx.lexical._bm25
    vocab = bm25.vocab_dict  # type: ignore[attr-defined]
    with_title = bool(idx.manifest.chunker.get("title_in_chunks"))
    term_scores: dict[str, np.ndarray] = {}

    def scores_of(term: str) -> np.ndarray:
        if term not in term_scores:
            term_scores[term] = np.asarray(bm25.get_scores([term]), dtype=np.float32)  # type: ignore[attr-defined]
        return term_scores[term]

    def terms_of(row: int) -> list[str]:
        ch = idx.chunks[row]
        return passage_terms(retrieval_text(ch.title, ch.text, with_title), idx.documents[ch.doc_id].lang)

    found: dict[str, list[tuple[bool, int]]] = {}
    for q in questions:
        lang = detect_lang(q.question)
        _, dense, lexical, _ = _rank(idx, rag.embedder, q.question, DEPTH, c, "hybrid", lang)

        def holds(pool: set[int], answers: tuple[str, ...] = q.answers) -> tuple[bool, int]:
            return any(contains_answer(idx.chunks[r].text, answers) for r in pool), len(pool)

        dense_rows = {r for r, _ in dense[: c.rerank_dense]}
        shipped = {r for r, _ in lexical[: c.rerank_lexical]} | dense_rows
        found.setdefault("BM25 10 + dense 5 (shipped)", []).append(holds(shipped))
        found.setdefault("BM25 15 + dense 5", []).append(holds({r for r, _ in lexical[:15]} | dense_rows))
        q_terms = [t for t in query_stems(q.question, lang) if t in vocab]
        q_score = sum((scores_of(t) for t in q_terms), np.zeros(idx.lexical.size, np.float32)) / max(1, len(q_terms))
        idf = idx.lexical.idf
        for fd in args.fb_docs:
            feedback = lexical[:fd]
            w = np.exp(np.array([s for _, s in feedback]) - max((s for _, s in feedback), default=0.0))
            w = w / w.sum() if len(w) else w
            weight: Counter[str] = Counter()
            for (row, _), wd in zip(feedback, w, strict=True):
                terms = terms_of(row)
                for t, n in Counter(terms).items():
                    if t not in q_terms and t in vocab:
                        weight[t] += wd * n / len(terms) * idf([t])[t]
            for ft in args.fb_terms:
                expansion = weight.most_common(ft)
                total = sum(v for _, v in expansion) or 1.0
                e_score = sum((v / total * scores_of(t) for t, v in expansion), np.zeros_like(q_score))
                for a in args.alphas:
                    s = (1 - a) * q_score + a * e_score
                    ranked = [int(r) for r in np.argsort(-s)[:DEPTH] if s[r] > 0]
                    for extra in args.extras:
                        if extra == 0:
                            pool = set(ranked[: c.rerank_lexical]) | dense_rows
                            label = f"expanded BM25 10 + dense 5, {fd} passages, {ft} words, alpha {a}"
                        else:
                            pool = shipped | set([r for r in ranked if r not in shipped][:extra])
                            label = f"shipped + {extra} expanded, {fd} passages, {ft} words, alpha {a}"
                        found.setdefault(label, []).append(holds(pool))
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions)}
    for label, rows in found.items():
        for suffix, positions in splits(len(rows), args.every).items():
            picked = [rows[i] for i in positions]
            m = {"recall": float(np.mean([h for h, _ in picked])), "candidates": float(np.mean([n for _, n in picked]))}
            results[label + suffix] = m
            print(f"{label + suffix}: recall {m['recall']:.3f}, candidates {m['candidates']:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
