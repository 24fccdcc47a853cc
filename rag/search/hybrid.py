"""Hybrid retrieval: dense and BM25 candidates fused by reciprocal rank or by a weighted sum of
normalised scores. Returns `Hit`s carrying both component scores. Reads the index (a local `Index`
or a `MilvusIndex`, through the same methods), never writes."""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..config import Config
from ..crosslingual import dense_weight
from ..models.embed import Embedder
from ..records import Hit, Query
from ..storage.index import AnyIndex

Mode = Literal["hybrid", "dense", "lexical"]


def search(
    index: AnyIndex,
    embedder: Embedder,
    query: Query,
    *,
    k: int,
    config: Config,
    mode: Mode = "hybrid",
) -> list[Hit]:
    """The `k` best chunks for `query`, best first.

    Args:
        index: the loaded index.
        embedder: the model the index was built with.
        query: the question (its `search_text` is searched, in its `lang`; empty gives no hits).
        k: how many hits at most (k larger than the index returns every chunk).
        config: fusion settings.
        mode: "hybrid" (default), or one component alone for comparison.

    Raises:
        ValueError: k < 1 or an unknown mode.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if mode not in ("hybrid", "dense", "lexical"):
        raise ValueError(f"unknown mode {mode!r}; choose 'hybrid', 'dense' or 'lexical'")
    if not query.search_text.strip():
        return []
    fused, dense, lexical, q = _rank(index, embedder, query, max(k, config.tuned.candidates), config, mode)
    return _hits(index, [row for row, _ in fused[:k]], fused, dense, lexical, q)


def rerank_pool(
    index: AnyIndex,
    embedder: Embedder,
    query: Query,
    *,
    k: int,
    config: Config,
) -> list[Hit]:
    """The candidates a reranker should reorder: BM25's best `Tuned.rerank_lexical` chunks and the
    dense side's best `Tuned.rerank_dense`, in hybrid order with their hybrid scores; topped up from
    the hybrid order when that union has fewer than `k`.

    subtle: not the hybrid top n: a union keeps what each side finds best, which holds the answer
    more often with fewer candidates (docs/calibration.md, "Fitted retrieval constants").

    Raises:
        ValueError: k < 1.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if not query.search_text.strip():
        return []
    t = config.tuned
    n = max(k, t.candidates, t.rerank_lexical, t.rerank_dense)
    fused, dense, lexical, q = _rank(index, embedder, query, n, config, "hybrid")
    chosen = {row for row, _ in lexical[: t.rerank_lexical] + dense[: t.rerank_dense]}
    top_up = [row for row, _ in fused if row not in chosen][: max(0, k - len(chosen))]
    chosen.update(top_up)
    # fused holds every row of both sides, so its order is the hybrid order of the pool
    return _hits(index, [row for row, _ in fused if row in chosen], fused, dense, lexical, q)


def _rank(
    index: AnyIndex,
    embedder: Embedder,
    query: Query,
    n: int,
    config: Config,
    mode: Mode,
) -> tuple[list[tuple[int, float]], list[tuple[int, float]], list[tuple[int, float]], np.ndarray | None]:
    """(fused, dense, lexical, query vector): the best `n` rows of each side as (row, score), best first."""
    text, lang = query.search_text, query.lang
    dense: list[tuple[int, float]] = []
    q = None
    if mode != "lexical":
        q = embedder.embed_queries([text])[0]
        dense = index.dense(q, n)
    lexical: list[tuple[int, float]] = []
    if mode != "dense":
        lexical = index.keyword(text, lang, n)
    w = dense_weight(config, lang)
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
    index: AnyIndex,
    rows: list[int],
    fused: list[tuple[int, float]],
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    q: np.ndarray | None,
) -> list[Hit]:
    fused_of = dict(fused)
    dense_of = dict(dense)
    lex_of = dict(lexical)
    chunks = index.passages(rows)
    rows = [row for row in rows if row in chunks]  # a Milvus passage whose document changed meanwhile
    others = index.similarities([row for row in rows if row not in dense_of], q) if q is not None else {}
    documents = index.describe(c.doc_id for c in chunks.values())
    hits = []
    for rank, row in enumerate(rows, 1):
        chunk = chunks[row]
        d = dense_of.get(row, others.get(row))
        doc = documents[chunk.doc_id]
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

    subtle: min-max puts BM25's weakest candidate at 0, level with the rows BM25 did not return. With
    weight on the dense side that fusion measured best; at w = 0 the fused score is what the reranker
    mixes with the LM's, and there a passage sharing words with the question must score above a
    dense-only row, so BM25's score is divided by its best instead.
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
