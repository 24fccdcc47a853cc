"""The "sources don't say" gate on questions whose answer was taken out of the corpus: each public
question is asked once as it is (answerable) and once with every passage holding a gold answer left
out of retrieval (`evaluation.without`), so what remains is on its subject (same
article, same names) but silent on what it asks: the hard case for a gate, which the harness's other
set's questions (another corpus, another language) are not. Those are asked too, for comparison.

For each question the script keeps what a gate could read: the shipped gate's value (`support`,
`answer.gate.weigh`, compared with `Config.min_support`), the best evidence sentence's own support
(`sentence_support`), the reranking LM's score of the top passage
(mean log-probability of the question after it), what that passage adds to the question's
likelihood over an empty passage (`lm_gain`), how far it stands above the second (`lm_gap`) and the
top passage's dense similarity. It prints
the shares answered, answered with a gold answer (hit rate) and refused for several values of
`min_support` (the operating points a user can choose), and how well each signal tells answerable
from answer-removed questions (ROC AUC); `--json` writes them with the per-question values, so other
gates can be compared on the same retrievals.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/answer_removed.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl --unanswerable ../shared/eval/squad-en/questions.jsonl \\
    [--every 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common import add_eval_set_options, open_eval_set, splits
from tqdm import tqdm

from rag.answer.extractive import answer_question
from rag.answer.gate import lm_adjusted, lm_weight
from rag.config import Config
from rag.crosslingual import crosses_languages, gate_lm_terms
from rag.evaluation import contains_answer, read_questions, without
from rag.pipeline import RAG
from rag.query import read_query
from rag.records import Hit
from rag.search.hybrid import rerank_pool
from rag.search.rerank import passages, rerank, worth_reranking
from rag.storage.index import Index

GATES = (0.3, Config.min_support, 0.4, 0.45, 0.5, 0.55)


def asked(rag: RAG, question: str, exclude: frozenset[int], lm_memo: dict[tuple[str, str], float]) -> dict[str, Any]:
    """Retrieve (reranked, as `RAG.search`), answer extractively, and keep what a gate could read."""
    idx, c = rag.current(), rag.config
    assert isinstance(idx, Index)  # leaving passages out is done on a local index
    query = read_query(question)
    lang = query.lang
    pool = rerank_pool(without(idx, exclude) if exclude else idx, rag.embedder, query, k=c.k, config=c)
    todo = [h for h in pool if (question, h.chunk.chunk_id) not in lm_memo]
    if worth_reranking(pool) and todo:
        lm = rag.reranker.scores(question, passages(h.chunk for h in todo), lang=lang)
        lm_memo.update({(question, h.chunk.chunk_id): s for h, s in zip(todo, lm, strict=True)})
    if (question, "") not in lm_memo:  # how likely the question is after an empty passage
        lm_memo[question, ""] = rag.reranker.scores(question, [("", "")], lang=lang)[0]
    null = lm_memo[question, ""]
    hits: list[Hit] = (
        rerank(
            pool, [lm_memo[question, h.chunk.chunk_id] for h in pool], weight=c.tuned.rerank_weight, k=c.k, null=null
        )
        if worth_reranking(pool)
        else pool[: c.k]
    )
    # The answer the extractive answerer would give at any gate (threshold 0), so that its hit is
    # known at every `min_support`; `answered` is the shipped gate's verdict. The quotes do not
    # depend on the gate, so the sentence's own support is read with the LM's part left out.
    answer = answer_question(query, hits, idx, rag.embedder, c.with_(gate_lm_weight=0.0), threshold=0.0)
    weight, offset = gate_lm_terms(c, lm_weight(c), crosses_languages(lang, hits, idx.documents))
    gain = hits[0].rerank_gain if hits else None
    gated = (
        lm_adjusted(answer.support, gain, weight, c.tuned.gate_lm_cap, offset) if answer.answered else answer.support
    )
    lm = [h.rerank_score for h in hits if h.rerank_score is not None]
    return {
        "answered": answer.answered and gated >= c.min_support,
        "text": answer.text,
        "support": gated,
        "sentence_support": answer.support,
        "lm": lm[0] if lm else None,
        # what the top passage adds to the question's likelihood (pointwise mutual information)
        "lm_gain": lm[0] - null if lm else None,
        # how far the top passage stands above the next one
        "lm_gap": lm[0] - lm[1] if len(lm) > 1 else None,
        "dense": hits[0].dense_score if hits else None,
        "passages": len(hits),
    }


def share(rows: list[dict[str, Any]], key: str, value: bool) -> float:
    return sum(r[key] is value for r in rows) / max(1, len(rows))


def auc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positive for n in negative]
    return sum(pairs) / max(1, len(pairs))


def operating_points(
    answerable: list[dict[str, Any]], removed: list[dict[str, Any]], other: list[dict[str, Any]]
) -> dict[str, object]:
    """Shares answered and refused at several `min_support` values, and each signal's AUC."""
    out: dict[str, object] = {}
    for t in GATES:
        row = {
            "answered (answerable)": sum(r["support"] >= t for r in answerable) / max(1, len(answerable)),
            "hit rate (answerable)": sum(r["support"] >= t and r["hit"] for r in answerable) / max(1, len(answerable)),
            "refused (answer removed)": sum(r["support"] < t for r in removed) / max(1, len(removed)),
        }
        if other:
            row["refused (other set)"] = sum(r["support"] < t for r in other) / len(other)
        out[f"min_support {t}"] = row
    for key in ("support", "sentence_support", "lm", "lm_gain", "lm_gap", "dense"):
        pos = [r[key] for r in answerable if r[key] is not None]
        neg = [r[key] for r in removed if r[key] is not None]
        out[f"AUC {key} (answerable vs answer removed)"] = auc(pos, neg)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=3)
    parser.add_argument("--unanswerable", type=Path, help="another set's questions (asked of this corpus)")
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx = rag.current()
    assert isinstance(idx, Index)
    memo: dict[tuple[str, str], float] = {}
    answerable: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for q in tqdm(questions, desc="questions", file=sys.stderr):
        gold = frozenset(i for i, ch in enumerate(idx.chunks) if contains_answer(ch.text, q.answers))
        plain = asked(rag, q.question, frozenset(), memo)
        answerable.append({"qid": q.qid, "hit": contains_answer(str(plain["text"]), q.answers), **plain})
        r = asked(rag, q.question, gold, memo)
        # subtle: a gold string can survive outside the chunks (a title); such a question is not
        # unanswerable after all, and is counted apart.
        removed.append(
            {"qid": q.qid, "left_out": len(gold), "still_holds": contains_answer(str(r["text"]), q.answers), **r}
        )
    if args.unanswerable:
        for q in tqdm(
            read_questions(args.unanswerable)[:: args.every][: len(questions)], desc="other set", file=sys.stderr
        ):
            other.append({"qid": q.qid, **asked(rag, q.question, frozenset(), memo)})
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions)}
    for split, rows in splits(len(questions), args.every).items():
        a = [answerable[i] for i in rows]
        rm = [removed[i] for i in rows if not removed[i]["still_holds"]]
        m = {
            "answered (answerable)": share(a, "answered", True),
            "refused (answer removed)": share(rm, "answered", False),
            "answer-removed questions": len(rm),
        }
        if other:
            m["refused (other set)"] = share(other, "answered", False)
        results[f"shipped gate{split}"] = m
        print(f"shipped gate{split}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))
        for label, value in operating_points(a, rm, other).items():
            results[f"{label}{split}"] = value
            shown = ", ".join(f"{k} {v:.3f}" for k, v in value.items()) if isinstance(value, dict) else f"{value:.3f}"
            print(f"{label}{split}: {shown}")
    results["per_question"] = {"answerable": answerable, "answer_removed": removed, "other_set": other}
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
