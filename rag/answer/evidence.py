"""Evidence: every sentence of the retrieved passages, scored against the question (dense
similarity, IDF-weighted stem coverage, the rank of its passage), and the citation that quotes one
exactly. Reads the index and the embedder; decides nothing about answering."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..models.embed import Embedder
from ..records import Citation, Hit, Query
from ..storage.index import AnyIndex
from ..text.chunking import retrieval_text, split_sentences
from ..text.terms import query_terms, stems
from .injection import is_instruction

MAX_SENTENCE_CHARS = 600


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence with its scores; `start`/`end` index the document text."""

    hit: Hit
    start: int
    end: int
    text: str
    dense: float
    overlap: float
    score: float
    vec: np.ndarray  # the sentence's embedding (reused to verify generated citations)


def select_evidence(
    query: Query, hits: list[Hit], index: AnyIndex, embedder: Embedder, config: Config
) -> list[Evidence]:
    """Every sentence of the retrieved passages, scored against the question as asked, best first."""
    question = query.text
    if not question.strip():
        return []
    candidates: list[tuple[Hit, int, int]] = []
    seen: set[tuple[str, int]] = set()
    for hit in hits:
        c = hit.chunk
        doc_text = index.documents[c.doc_id].text
        for s, e in split_sentences(doc_text, c.start, c.end):
            if (c.doc_id, s) in seen:
                continue  # overlapping chunks repeat sentences
            seen.add((c.doc_id, s))
            if doc_text[s:e].rstrip(" »”\"'").endswith("?"):
                continue  # a question (interviews, FAQs) is never the answer to one
            if is_instruction(doc_text[s:e]):
                continue  # nor is an instruction planted for an assistant
            if doc_text[s:e].startswith("#"):
                continue  # a Markdown heading names a topic; it states nothing to quote
            candidates.append((hit, s, min(e, s + MAX_SENTENCE_CHARS)))
    if not candidates:
        return []
    groups = query_terms(question, query.lang)
    idf = index.lexical.idf([t for g in groups for t in g])
    # A word weighs the idf of its rarest variant seen in the corpus, capped at a once-seen word's:
    # a word the corpus never uses (a synonym) must not outweigh every word it does use.
    cap = index.lexical.idf_of_df(1)
    weight = [min(cap, max(idf[t] for t in g)) for g in groups]
    total = sum(weight) or 1.0
    texts = [index.documents[h.chunk.doc_id].text[s:e] for h, s, e in candidates]
    # The title gives a sentence its subject, as it does for chunks at indexing time.
    with_title = bool(index.manifest.chunker.get("title_in_chunks"))
    vecs = embedder.embed_passages(
        [retrieval_text(h.chunk.title, t, with_title) for (h, _, _), t in zip(candidates, texts, strict=True)]
    )
    q = embedder.embed_queries([question])[0]
    dense = vecs @ q
    rank_weight = config.tuned.evidence_rank_weight
    out = []
    for (hit, s, e), text, d, vec in zip(candidates, texts, dense, vecs, strict=True):
        sent_terms = set(stems(text, index.documents[hit.chunk.doc_id].lang)) | set(stems(hit.chunk.title, "fr"))
        overlap = sum(w for g, w in zip(groups, weight, strict=True) if any(t in sent_terms for t in g)) / total
        score = match(float(d), overlap, hit.rank, rank_weight)
        out.append(Evidence(hit, s, e, text, float(d), overlap, score, vec))
    out.sort(key=lambda ev: -ev.score)
    return out


def match(dense: float, overlap: float, rank: int, rank_weight: float, dense_share: float = 0.5) -> float:
    """A sentence's dense and lexical match with the question (0.9 between them, `dense_share` of it
    dense) plus its passage's rank."""
    return 0.9 * (dense_share * dense + (1 - dense_share) * overlap) + rank_weight / rank


def support(ev: Evidence) -> float:
    """How strongly one sentence supports an answer (the sentence's part of the gate's value)."""
    return 0.5 * ev.dense + 0.5 * ev.overlap


def quote_score(ev: Evidence, config: Config) -> float:
    """How much a sentence deserves to be quoted as the answer, once the gate has let it through:
    the passage order, reranked by an LM that reads the whole passage, weighs more than in `score`."""
    t = config.tuned
    return match(ev.dense, ev.overlap, ev.hit.rank, t.quote_rank_weight, t.quote_dense_share)


def citation(n: int, ev: Evidence, index: AnyIndex, score: float) -> Citation:
    """Citation number `n` quoting the evidence sentence exactly from its document."""
    doc = index.documents[ev.hit.chunk.doc_id]
    return Citation(
        n=n,
        doc_id=doc.doc_id,
        title=doc.title,
        source=doc.source,
        url=doc.url,
        quote=doc.text[ev.start : ev.end],
        start=ev.start,
        end=ev.end,
        score=round(score, 4),
        chunk_id=ev.hit.chunk.chunk_id,
    )
