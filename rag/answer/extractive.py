"""The extractive answerer: quotes the best sentences of the best passage verbatim, each followed
by its [n] marker, so every citation satisfies `doc.text[c.start:c.end] == c.quote` by
construction. When the gate's value is middling, the same quote is introduced as the closest
passage, not the answer; when it is low, a refusal."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..config import Config
from ..crosslingual import second_sentence_floor
from ..models.embed import Embedder
from ..records import Answer, Hit, Query
from ..search.rerank import zscores
from ..storage.index import AnyIndex
from .evidence import Evidence, citation, quote_score, support
from .gate import CLOSEST, QUOTE_MARKS, Weighed, confidence, refusal, weigh

# Mean log-probability of a question after each (title, text) under a language model.
PassageScorer = Callable[[str, Sequence[tuple[str, str]]], Sequence[float]]


def answer_question(
    query: Query,
    hits: list[Hit],
    index: AnyIndex,
    embedder: Embedder,
    config: Config,
    *,
    threshold: float,
    scorer: PassageScorer | None = None,
    weighed: Weighed | None = None,
) -> Answer:
    """An extractive answer with verified citations, or a refusal in the question's language.

    Args:
        query: the question, read once (`query.read_query`).
        hits: the retrieved passages, best first.
        threshold: the support the evidence needs for an answer (`Config.min_support` or the caller's).
        scorer: the reranking LM, which then reorders the quoted passage's sentences by what each
            carries (`lm_ordered`); None: the quote score alone.
        weighed: the gate's `weigh` for these hits, when the caller has it already.
    """
    weighed = weighed or weigh(query, hits, index, embedder, config)
    outcome = confidence(weighed.support, threshold, config)
    if not weighed.evidence or outcome == "none":
        return refusal(query, hits, weighed.support, "extractive")
    ranked = sorted(((quote_score(ev, config), ev) for ev in weighed.evidence), key=lambda pair: -pair[0])
    best = ranked[0][1].hit.chunk.chunk_id
    passage = [pair for pair in ranked if pair[1].hit.chunk.chunk_id == best]  # the passage quoted
    lm_weight = config.tuned.quote_lm_weight
    if scorer is not None and lm_weight and len(passage) > 1:
        passage = lm_ordered(query.text, passage, scorer, lm_weight)
    # The answer's words are often in the sentence next to the one that matches the question best.
    floor = second_sentence_floor(config, weighed.crosses)
    chosen = passage[:1] + [(score, ev) for score, ev in passage[1:] if support(ev) >= floor][:1]
    chosen.sort(key=lambda pair: (pair[1].hit.chunk.doc_id, pair[1].start))  # read in document order
    citations = []
    parts = []
    for n, (score, ev) in enumerate(chosen, 1):
        citations.append(citation(n, ev, index, score))
        parts.append(f"{ev.text} [{n}]")
    if outcome == "closest":  # shown as related material, not asserted
        opening, closing = QUOTE_MARKS[query.lang]
        parts = [CLOSEST[query.lang], opening + " ".join(parts) + closing]
    return Answer(
        question=query.text,
        text=" ".join(parts),
        answered=True,
        citations=tuple(citations),
        passages=tuple(hits),
        answerer="extractive",
        lang=query.lang,
        support=weighed.support,
        confidence=outcome,
    )


def lm_ordered(
    question: str, passage: list[tuple[float, Evidence]], scorer: PassageScorer, weight: float
) -> list[tuple[float, Evidence]]:
    """The (quote score, sentence) pairs of one passage, best first by z(quote score) - `weight` x
    z(the question's LM score after the passage without that sentence): the sentence whose removal
    costs the question most is the one that explains it."""
    ordered = sorted(passage, key=lambda pair: pair[1].start)
    title = ordered[0][1].hit.chunk.title
    without = [" ".join(ev.text for _, ev in ordered if ev is not left) for _, left in ordered]
    loo = zscores(scorer(question, [(title, text) for text in without]))
    mixed = zscores([score for score, _ in ordered]) - weight * loo
    return [ordered[i] for i in np.argsort(-mixed, kind="stable")]
