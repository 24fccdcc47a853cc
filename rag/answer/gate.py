"""The answerability gate: how well the sources support an answer (`Answer.support`), compared
with `min_support` and `Tuned.sure_support` (`confidence`: sure, closest passage, or refusal), and
the refusal in the question's language when they do not. Both answerers
call `weigh`; the LM's part is calibrated for the bundled reranker only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config import Config
from ..crosslingual import crosses_languages, gate_lm_terms
from ..models.embed import Embedder
from ..models.llm import BUNDLED_LLM
from ..records import Answer, Confidence, Hit, Query
from ..storage.index import AnyIndex
from .evidence import Evidence, select_evidence, support

NOT_FOUND = {
    "fr": "Les sources ne contiennent pas la réponse à cette question.",
    "en": "The sources do not contain the answer to this question.",
}


CLOSEST = {
    "fr": "Les articles ne le disent pas directement. Le passage le plus proche :",
    "en": "The articles do not say this directly. The closest passage:",
}
QUOTE_MARKS = {"fr": ("« ", " »"), "en": ("“", "”")}


def confidence(value: float, threshold: float, config: Config) -> Confidence:
    """The outcome for a gate value: "sure" from `Tuned.sure_support` (or `threshold` when it is
    higher), "closest" from `threshold`, else "none" (refuse)."""
    if value >= max(threshold, config.tuned.sure_support):
        return "sure"
    return "closest" if value >= threshold else "none"


@dataclass(frozen=True)
class Weighed:
    """The evidence for a question, best first, and the gate's value for it."""

    evidence: list[Evidence]
    support: float
    crosses: bool  # the question's language is not its top passage's document's


def lm_weight(config: Config) -> float:
    """The weight of the reranking LM's gain in the gate (`Config.gate_lm_weight`): the calibrated
    one with the bundled reranker, 0 with another (its gains are on another scale) unless given."""
    if config.gate_lm_weight is not None:
        return float(config.gate_lm_weight)
    return config.tuned.gate_lm_weight if config.rerank_model in ("", BUNDLED_LLM) else 0.0


def weigh(query: Query, hits: list[Hit], index: AnyIndex, embedder: Embedder, config: Config) -> Weighed:
    """The evidence and the gate's value: the best sentence's support, moved by how much the top
    passage raises the question's likelihood under the reranking LM over no passage
    (`Hit.rerank_gain`), more so across languages. Without reranking, the sentence's support alone."""
    evidence = select_evidence(query, hits, index, embedder, config)
    crosses = crosses_languages(query.lang, hits, index.describe(h.chunk.doc_id for h in hits[:1]))
    if not evidence:
        return Weighed(evidence, 0.0, crosses)
    weight, offset = gate_lm_terms(config, lm_weight(config), crosses)
    gain = hits[0].rerank_gain if hits else None
    return Weighed(evidence, lm_adjusted(support(evidence[0]), gain, weight, config.tuned.gate_lm_cap, offset), crosses)


def lm_adjusted(sentence_support: float, gain: float | None, weight: float, cap: float, offset: float) -> float:
    """The support plus weight x (min(gain, cap) - offset), within 0-1; the support alone when
    there is no gain (no reranking)."""
    if gain is None:
        return sentence_support
    return min(1.0, max(0.0, sentence_support + weight * (min(gain, cap) - offset)))


def refusal(query: Query, hits: Sequence[Hit], value: float, answerer: str) -> Answer:
    """'The sources do not contain the answer', in the question's language, with the closest passages."""
    return Answer(
        question=query.text,
        text=NOT_FOUND[query.lang],
        answered=False,
        passages=tuple(hits),
        answerer=answerer,
        lang=query.lang,
        support=value,
        confidence="none",
    )
