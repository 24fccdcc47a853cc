"""Second-stage ranking: the reranker's pool (`hybrid.rerank_pool`) scored by query likelihood
under a small causal LM (`models.lm_scoring`) and mixed with the hybrid score (z-scores,
`Tuned.rerank_weight`). Owns the mixing arithmetic and the per-question score memo; no model code."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..config import Config
from ..models.embed import Embedder
from ..models.lm_scoring import Reranker, load_reranker
from ..records import Chunk, Hit, Query
from ..storage.index import AnyIndex
from .hybrid import rerank_pool

# Reranking scores remembered per (index version, model, query, candidates), oldest dropped first:
# a few hundred bytes each, and enough for the eval harness to rerank each question once although it
# searches all of a set's questions before it asks them.
MEMO_SIZE = 4096


class Reranking:
    """The reranked search of one `RAG`: the LM loaded on first use (shared in the process) and the
    scores of recent questions remembered (the same question is often retrieved twice: search, then ask)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._memo: dict[tuple[str, str, str, tuple[str, ...]], list[float]] = {}
        self._lock = threading.Lock()

    @property
    def reranker(self) -> Reranker:
        return load_reranker(self.config.rerank_model, prefix_cache_mb=self.config.rerank_cache_mb)

    def search(self, index: AnyIndex, embedder: Embedder, query: Query, k: int) -> list[Hit]:
        """The `k` best passages for `query`: its pool, reordered by the LM mixed with the hybrid score."""
        c = self.config
        hits = rerank_pool(index, embedder, query, k=k, config=c)
        if not worth_reranking(hits):
            return hits[:k]
        key = (index.version, c.rerank_model, query.search_text, tuple(h.chunk.chunk_id for h in hits))
        scores = self._memo.get(key)
        if scores is None:
            # and, last, the question after an empty passage: what each passage adds to it (the gate's)
            read = [*passages(h.chunk for h in hits), ("", "")]
            scores = self.reranker.scores(query.search_text, read, lang=query.lang)
            with self._lock:
                self._memo[key] = scores
                while len(self._memo) > MEMO_SIZE:
                    self._memo.pop(next(iter(self._memo)))
        return rerank(hits, scores[:-1], weight=c.tuned.rerank_weight, k=k, null=scores[-1])


def worth_reranking(hits: Sequence[Hit]) -> bool:
    """Whether the LM should score `hits`: one candidate (or none) keeps its place, so it is
    returned as retrieved, with no LM call and no rerank score."""
    return len(hits) >= 2


def rerank(
    hits: Sequence[Hit], scores: Sequence[float], *, weight: float, k: int, null: float | None = None
) -> list[Hit]:
    """The `k` best of `hits` by weight * z(scores) + (1 - weight) * z(hit scores), renumbered.

    Each returned hit keeps its retrieval score in `retrieval_score`, its LM score in
    `rerank_score`, and gets the mixed score as `score`. `null` is the question's score after an
    empty passage; when given, each hit's `rerank_gain` is its LM score less that.
    """
    if len(scores) != len(hits):
        raise ValueError(f"got {len(scores)} scores for {len(hits)} hits")
    if not hits:
        return []
    mixed = weight * zscores(scores) + (1 - weight) * zscores([h.score for h in hits])
    order = sorted(range(len(hits)), key=lambda i: (-mixed[i], i))
    return [
        replace(
            hits[i],
            score=float(mixed[i]),
            rank=r,
            retrieval_score=hits[i].score,
            rerank_score=float(scores[i]),
            rerank_gain=None if null is None else float(scores[i] - null),
        )
        for r, i in enumerate(order[:k], 1)
    ]


def passages(chunks: Iterable[Chunk]) -> list[tuple[str, str]]:
    """What the reranker reads of each chunk: (its document's title, its text), for `Reranker.scores`."""
    return [(c.title, c.text) for c in chunks]


def zscores(values: Sequence[float]) -> Any:
    """`values` centred and scaled to unit deviation (all zeros when they are all equal)."""
    x = np.asarray(values, dtype=float)
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)
