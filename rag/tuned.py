"""Every constant fitted on the public evaluation sets, in one frozen record, each with the
BENCHMARKS.md section that chose it. Code reads them from `Config.tuned`; a calibration script
measures other values by passing `Config(tuned=replace(TUNED, name=value))`. No logic here."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Tuned:
    # Retrieval ("Retrieval")
    dense_weight: float = 0.3  # the dense side's share of the fused score (min-max normalised)
    candidates: int = 50  # candidates each retriever contributes before fusion
    rerank_lexical: int = 10  # BM25's best passages in the reranker's pool
    rerank_dense: int = 5  # the dense side's best passages in that pool
    rerank_weight: float = 0.7  # the LM score's share in the reranked order (z-scores)
    # Evidence and quotes ("Answers")
    evidence_rank_weight: float = 0.10  # 1/rank of a sentence's passage in the evidence score
    quote_rank_weight: float = 0.3  # 1/rank of its passage in choosing what to quote
    quote_dense_share: float = 0.5  # dense share of a sentence's own match in the quote score
    second_sentence_support: float = 0.25  # support a second sentence of the quoted passage needs
    quote_lm_weight: float = 1.0  # the LM's leave-one-out z-score in ordering quoted sentences
    # The gate ("The gate")
    min_support: float = 0.34  # default threshold of the "sources don't say" gate
    sure_support: float = 0.54  # support from which an answer is stated as sure ("How sure")
    gate_lm_weight: float = 0.05  # weight of the reranking LM's gain (bundled Gemma only)
    gate_lm_cap: float = 3.0  # the gain is capped here
    gate_lm_offset: float = 1.11  # a typical answerable question's gain
    gate_cross_lm_weight: float = 0.3  # the LM's weight across languages (scaled with gate_lm_weight)
    gate_cross_lm_offset: float = 0.45  # its offset across languages ("Questions in the other language")
    # Close calls ("Close calls")
    close_call_margin: float = 0.2  # reranked score gap under which an uncited passage is shown
    # Generated answers ("Generated answers"; set on the seed articles, tests/test_cite.py)
    claim_threshold: float = 0.55  # support a span needs to back a generated sentence
    # Chunks ("Chunk size")
    chunk_chars: int = 650  # target chunk size in characters

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise ValueError(f"Tuned.{f.name} must be a number of 0 or more (got {value!r})")


TUNED = Tuned()
