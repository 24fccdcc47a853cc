"""Close calls: retrieved passages the answer does not cite that the reranker scored almost as high
as the cited one, so the answer may be in them; the app and the CLI show them beside the citations."""

from __future__ import annotations

from collections.abc import Sequence

from ..records import Citation, Hit


def close_passages(citations: Sequence[Citation], hits: Sequence[Hit], margin: float) -> tuple[str, ...]:
    """The chunk ids of the passages in `hits` that no citation quotes and whose reranked score
    comes within `margin` of the best cited passage's (or above it), best first. None when nothing
    is cited or the passages were not reranked (the hybrid scores are on another scale). A passage
    that holds every quote of the answer is no alternative: the neighbouring chunk sharing the
    quoted sentence (chunks overlap by one), or the same paragraph in another article."""
    cited = {c.chunk_id for c in citations}
    reranked = sorted((h for h in hits if h.rerank_score is not None), key=lambda h: -h.score)
    best = max((h.score for h in reranked if h.chunk.chunk_id in cited), default=None)
    if best is None:
        return ()
    return tuple(
        h.chunk.chunk_id
        for h in reranked
        if h.chunk.chunk_id not in cited
        and h.score >= best - margin
        and not all(c.quote in h.chunk.text for c in citations)
    )
