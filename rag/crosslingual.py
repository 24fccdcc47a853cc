"""Every rule that depends on the question's language against the models' and the articles'
languages, in one place: the dense side's weight, whether a question crosses languages, who chooses
the quoted sentences, and how the gate and the second quote change across languages. Pure policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .config import DEFAULT_MODEL, Config
from .records import Document, Hit


def embedding_langs(config: Config) -> tuple[str, ...] | None:
    """The languages the embedding model reads (None: every language). all-MiniLM-L6-v2 is English-only."""
    if config.embedding_langs is None and config.embedding_model == DEFAULT_MODEL:
        return ("en",)
    return config.embedding_langs


def dense_weight(config: Config, lang: str) -> float:
    """The dense side's weight in the fused score of a question in `lang`: none outside the
    embedding model's languages, where its similarity drags the order below BM25's."""
    langs = embedding_langs(config)
    return config.tuned.dense_weight if langs is None or lang in langs else 0.0


def crosses_languages(lang: str, hits: Sequence[Hit], documents: Mapping[str, Document]) -> bool:
    """Whether the question (in `lang`) and the document of its top passage differ in language."""
    if not hits:
        return False
    doc = documents.get(hits[0].chunk.doc_id)
    return doc is not None and doc.lang != lang


def lm_chooses_quotes(config: Config, lang: str, hits: Sequence[Hit]) -> bool:
    """Whether the reranking LM orders the quoted passage's sentences: when it ordered the hits and
    the dense side has no weight for this language (its half of the quote score says little there)."""
    reranked = config.rerank and bool(hits) and hits[0].rerank_score is not None
    return reranked and dense_weight(config, lang) == 0


def second_sentence_floor(config: Config, crosses: bool) -> float:
    """The support a second sentence of the quoted passage needs: none across languages, where a
    sentence's support is low whatever it says (English-only embedder, stems that differ)."""
    return 0.0 if crosses else config.tuned.second_sentence_support


def gate_lm_terms(config: Config, lm_weight: float, crosses: bool) -> tuple[float, float]:
    """(weight, offset) of the reranking LM's gain in the gate: across languages the LM, which
    reads both, weighs more (scaled with the weight in use)."""
    t = config.tuned
    if crosses:
        scaled = lm_weight * t.gate_cross_lm_weight / t.gate_lm_weight if t.gate_lm_weight else 0.0
        return scaled, t.gate_cross_lm_offset
    return lm_weight, t.gate_lm_offset
