"""Hybrid retrieval: dense (FAISS) and BM25 candidates fused by reciprocal rank or by a weighted sum
of normalised scores. Returns `Hit`s carrying both component scores. Reads the index, never writes."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import numpy as np

from .config import Config
from .embed import Embedder
from .index import Index
from .lang import detect_lang, query_stems
from .milvus_store import MilvusStore
from .records import Hit, Lang

Mode = Literal["hybrid", "dense", "lexical"]


def search(
    index: Index,
    embedder: Embedder,
    query: str,
    *,
    k: int,
    config: Config,
    mode: Mode = "hybrid",
    lang: Lang | None = None,
) -> list[Hit]:
    """The `k` best chunks for `query`, best first.

    Args:
        index: the loaded index.
        embedder: the model the index was built with.
        query: the question (any length; empty gives no hits).
        k: how many hits at most (k larger than the index returns every chunk).
        config: fusion settings.
        mode: "hybrid" (default), or one component alone for comparison.
        lang: the query's language for stemming; detected when None.

    Raises:
        ValueError: k < 1 or an unknown mode.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if mode not in ("hybrid", "dense", "lexical"):
        raise ValueError(f"unknown mode {mode!r}; choose 'hybrid', 'dense' or 'lexical'")
    if not query.strip() or not index.chunks:
        return []
    lang = lang or detect_lang(query)
    fused, dense, lexical, q = _rank(index, embedder, query, max(k, config.candidates), config, mode, lang)
    return _hits(index, [row for row, _ in fused[:k]], fused, dense, lexical, q)


def rerank_pool(
    index: Index,
    embedder: Embedder,
    query: str,
    *,
    k: int,
    config: Config,
    lang: Lang | None = None,
    exclude: Collection[int] = (),
) -> list[Hit]:
    """The candidates a reranker should reorder: BM25's best `config.rerank_lexical` chunks and the
    dense side's best `config.rerank_dense`, in hybrid order with their hybrid scores; topped up from
    the hybrid order when that union has fewer than `k`.

    subtle: not the hybrid top n. On French the English embedder drags the fused order below BM25's
    (recall@15 0.940 fused against 0.955 for BM25 alone on piaf-fr), and a union keeps what each side
    finds best: lexical 10 + dense 5 holds the answer for 0.952 / 0.985 of piaf-fr / squad-en
    questions with ~12 candidates, against 0.940 / 0.982 for the hybrid top 15 (BENCHMARKS.md).

    `exclude` names chunk rows to leave out as if they were not indexed (their BM25 statistics stay):
    benchmarks/answer_removed.py takes away the passages that hold a question's answer.

    Raises:
        ValueError: k < 1.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if not query.strip() or not index.chunks:
        return []
    lang = lang or detect_lang(query)
    n = max(k, config.candidates, config.rerank_lexical, config.rerank_dense)
    fused, dense, lexical, q = _rank(index, embedder, query, n, config, "hybrid", lang, exclude)
    chosen = {row for row, _ in lexical[: config.rerank_lexical] + dense[: config.rerank_dense]}
    top_up = [row for row, _ in fused if row not in chosen][: max(0, k - len(chosen))]
    chosen.update(top_up)
    # fused holds every row of both sides, so its order is the hybrid order of the pool
    return _hits(index, [row for row, _ in fused if row in chosen], fused, dense, lexical, q)


def _rank(
    index: Index,
    embedder: Embedder,
    query: str,
    n: int,
    config: Config,
    mode: Mode,
    lang: Lang,
    exclude: Collection[int] = (),
) -> tuple[list[tuple[int, float]], list[tuple[int, float]], list[tuple[int, float]], np.ndarray | None]:
    """(fused, dense, lexical, query vector): the best `n` rows of each side as (row, score), best
    first, none of them in `exclude`."""
    dense: list[tuple[int, float]] = []
    q = None
    fetch = n + len(exclude)
    if mode != "lexical":
        q = embedder.embed_queries([query])[0]
        dense = index.store.search(q, fetch)
    lexical: list[tuple[int, float]] = []
    if mode != "dense":
        if isinstance(index.store, MilvusStore):  # Milvus' own BM25, over the same stems
            lexical = index.store.search_terms(query_stems(query, lang), fetch)
        else:
            lexical = index.lexical.search(query, lang, fetch)
    if exclude:
        left_out = set(exclude)
        dense = [p for p in dense if p[0] not in left_out][:n]
        lexical = [p for p in lexical if p[0] not in left_out][:n]
    w = config.dense_weight_for(lang)
    if mode == "dense":
        fused = list(dense)
    elif mode == "lexical":
        fused = list(lexical)
    elif config.fusion == "rrf" and w > 0:
        fused = _rrf([dense, lexical], config.rrf_k)
    else:  # the weighted sum; also RRF's case at weight 0 (a language the embedder was not trained on):
        # BM25's order, dense-only rows after it
        fused = _weighted(dense, lexical, w)
    return fused, dense, lexical, q


def _hits(
    index: Index,
    rows: list[int],
    fused: list[tuple[int, float]],
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    q: np.ndarray | None,
) -> list[Hit]:
    fused_of = dict(fused)
    dense_of = dict(dense)
    lex_of = dict(lexical)
    hits = []
    for rank, row in enumerate(rows, 1):
        chunk = index.chunks[row]
        d = dense_of.get(row)
        if d is None and q is not None:
            d = float(index.vectors[row] @ q)
        doc = index.documents[chunk.doc_id]
        hits.append(
            Hit(
                chunk=chunk,
                score=float(fused_of.get(row, 0.0)),
                rank=rank,
                dense_score=d,
                lexical_score=lex_of.get(row),
                source=doc.source,
                url=doc.url,
            )
        )
    return hits


def _rrf(rankings: list[list[tuple[int, float]]], rrf_k: int) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (row, _) in enumerate(ranking, 1):
            scores[row] = scores.get(row, 0.0) + 1.0 / (rrf_k + rank)
    return sorted(scores.items(), key=lambda x: (-x[1], x[0]))


def _weighted(dense: list[tuple[int, float]], lexical: list[tuple[int, float]], w: float) -> list[tuple[int, float]]:
    """w * min-max(dense) + (1 - w) * min-max(bm25) over the union of candidates; at w = 0, BM25's
    score divided by its best, so a row BM25 did not return scores 0.

    subtle: min-max puts BM25's weakest candidate at 0 too, level with the rows BM25 did not return
    (their BM25 score is 0 or below every candidate's). With weight on the dense side that is the
    fusion measured best; at w = 0 the fused score is what the reranker mixes with the LM's, and
    there it made a dense-only row as good as a passage that shares words with the question: on
    all 600 piaf-fr questions scaling by the best instead lifts reranked recall@1 0.805 -> 0.815 on
    the same LM scores (English, weighted, loses 0.010 with it, so only w = 0 does it; BENCHMARKS.md).
    """

    def norm(pairs: list[tuple[int, float]], *, min_max: bool) -> dict[int, float]:
        if not pairs:
            return {}
        vals = np.array([s for _, s in pairs])
        lo, hi = (float(vals.min()), float(vals.max())) if min_max else (0.0, float(vals.max()))
        span = hi - lo or 1.0
        return {row: (s - lo) / span for row, s in pairs}

    dn, ln = norm(dense, min_max=True), norm(lexical, min_max=w > 0)
    rows = set(dn) | set(ln)
    scores = {r: w * dn.get(r, 0.0) + (1 - w) * ln.get(r, 0.0) for r in rows}
    # Ties (at w = 0, every dense-only row scores 0) go to BM25's order, then the dense side's.
    lex_pos = {row: i for i, (row, _) in enumerate(lexical)}
    dense_pos = {row: i for i, (row, _) in enumerate(dense)}
    n = len(lexical) + len(dense)
    return sorted(scores.items(), key=lambda x: (-x[1], lex_pos.get(x[0], n), dense_pos.get(x[0], n), x[0]))
