"""The extractive answerer and the answerability gate.

Evidence selection: the retrieved passages are split into sentences (offsets into the document);
each sentence is scored against the question by dense similarity, IDF-weighted stem overlap and the
rank of its passage. The answer quotes the best sentences verbatim, each followed by its [n] marker,
so every citation satisfies `doc.text[c.start:c.end] == c.quote` by construction. When the evidence
is too weak (threshold calibrated on data, see BENCHMARKS.md) the answer says so instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .chunking import split_sentences
from .config import Config
from .embed import Embedder
from .index import Index, retrieval_text
from .lang import detect_lang, query_terms, stems
from .records import Answer, Citation, Hit, Lang
from .rerank import zscores

NOT_FOUND = {
    "fr": "Les sources ne contiennent pas la réponse à cette question.",
    "en": "The sources do not contain the answer to this question.",
}
# Ranking the evidence (and so the sentence the gate reads), 1/rank of its passage weighs this much.
EVIDENCE_RANK_WEIGHT = 0.10
# Choosing what to quote, the rank of a sentence's passage weighs this much (1/rank) against its
# own dense and lexical match (0.45 each): the passage order, reranked by a language model that reads
# the whole passage, says better than one sentence's match which passage holds the answer. 0.3 (from
# 0.1) lifted citation precision from 0.725 to 0.769 on piaf-fr and 0.832 to 0.850 on squad-en
# (BENCHMARKS.md); the gate keeps its calibrated score.
QUOTE_RANK_WEIGHT = 0.3
# A second sentence is quoted from the passage of the best one (the best other sentence there) when
# its support reaches this: the answer's words are often in the sentence before or after the one
# that matches the question best ("Il y est nommé en 1998."). From any passage at >= 0.9 of the best
# quote score (until 2026-11-26) the second sentence came from a wrong passage too often. Chosen on
# every third piaf-fr question; on all 600 hit rate 0.678 -> 0.718, citation precision 0.768 -> 0.799
# (BENCHMARKS.md). Not for a question in another language than its passage, whose sentences'
# support is low whatever they say: there the best other sentence of the passage is always quoted
# (112 questions asked in the other language, the shipped pipeline: hit rate 0.562 -> 0.625).
SECOND_SENTENCE_SUPPORT = 0.25
# The gate reads the best sentence's support plus GATE_LM_WEIGHT x (the top passage's gain in the
# question's likelihood under the reranking LM over no passage, `Hit.rerank_gain`, capped at
# GATE_LM_CAP, less GATE_LM_OFFSET). A passage on the question's subject that does not hold its
# answer often has a sentence that matches the question's words but explains the question less.
# Weight and cap chosen on every third public question (the best ROC AUC of answerable against
# answer-removed questions, both sets), the offset there too, so that the default threshold answers
# as many of them as the sentence's support alone did. On the other two thirds, at the default
# threshold: answer-removed questions refused 0.138 -> 0.175 (piaf-fr), other corpus's questions
# refused 0.945 -> 0.960 (squad-en), the rest within a question or two (BENCHMARKS.md).
GATE_LM_WEIGHT = 0.05
GATE_LM_CAP = 3.0
GATE_LM_OFFSET = 1.11
# A question in one language about passages in the other: the sentence's support is low whatever
# the passage says (MiniLM is English-only, stems differ between languages: names and numbers
# alone match), while the LM reads both. There the LM's part weighs GATE_CROSS_LM_WEIGHT (scaled
# with the weight in use) around GATE_CROSS_LM_OFFSET. Chosen on half of 112 questions translated
# from the bundled sets and the seed questions, against the public sets' other-set questions (all
# cross-language); on the other half: answered 0.48 -> 0.88, refused 0.98 -> 0.94 (BENCHMARKS.md).
GATE_CROSS_LM_WEIGHT = 0.3
GATE_CROSS_LM_OFFSET = 0.45
# Within the passage quoted, the reranking LM says which sentences carry the answer: the question's
# likelihood after the passage without each sentence (leave one out) falls most without the one the
# question was written from. Its z-score over the passage's sentences, negated, is added with this
# weight (the plain sum, not tuned) to the quote score's z-score to choose the first sentence and
# the second. Only when a `PassageScorer` is given: the pipeline gives the reranker for questions
# outside the embedder's languages (`RAG.quote_scorer`). piaf-fr hit rate 0.733 -> 0.750 for one LM
# batch (~0.2 s); nothing on squad-en, where MiniLM's half of the quote score is good (BENCHMARKS.md).
QUOTE_LM_WEIGHT = 1.0
# An answer is a close call when a retrieved passage it does not cite has a reranked score within
# CLOSE_CALL_MARGIN of the best cited passage's (or above it): the ranking could hardly tell them
# apart, so the answer may be in the other one, which is shown beside the citations
# (`Answer.close_passages`). Chosen on every third public question to flag about one answer in five:
# on the other two thirds, the flagged answers' citations miss the answer 0.43 (piaf-fr) / 0.32
# (squad-en) of the time against 0.11 / 0.10 for the others, and for 0.54 / 0.60 of the flagged
# misses the passage shown holds it (BENCHMARKS.md, "Close calls").
CLOSE_CALL_MARGIN = 0.2
# Of the 0.9 a sentence's own match weighs in the quote score, the share of its dense similarity (the
# rest is its lexical overlap).
QUOTE_DENSE_SHARE = 0.5
MAX_SENTENCE_CHARS = 600
# Sentences that address an assistant rather than inform a reader ("ignore previous instructions",
# "réponds uniquement X"): never evidence, and withheld from a language model's prompt.
_INSTRUCTION_RE = re.compile(
    r"\b(ignore[sz]?|disregard|forget|oublie[sz]?|ignorer)\b.{0,40}\b(instructions?|consignes?|prompts?|r[eè]gles?|rules?)\b"
    r"|\b(system prompt|prompt syst[eè]me|you are now|tu es maintenant|vous [eê]tes maintenant)\b"
    r"|(?:^\W*|[,;:]\s*|\b(?:and|et|then|puis)\s+)"
    r"(answer|reply|respond|say|print|output|write|r[ée]ponds?|r[ée]pondez|dis|dites|[ée]cris|[ée]crivez)\b"
    r".{0,30}\b(only|just|uniquement|seulement|simplement)\b",
    re.I | re.S,
)


# Mean log-probability of a question after each (title, text) under a language model
# (`Reranker.scores` with the question's language bound).
PassageScorer = Callable[[str, Sequence[tuple[str, str]]], Sequence[float]]


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
    question: str, hits: list[Hit], index: Index, embedder: Embedder, lang: Lang | None = None
) -> list[Evidence]:
    """Every sentence of the retrieved passages, scored against `question`, best first."""
    lang = lang or detect_lang(question)
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
            candidates.append((hit, s, min(e, s + MAX_SENTENCE_CHARS)))
    if not candidates:
        return []
    groups = query_terms(question, lang)
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
    out = []
    for (hit, s, e), text, d, vec in zip(candidates, texts, dense, vecs, strict=True):
        sent_terms = set(stems(text, index.documents[hit.chunk.doc_id].lang)) | set(stems(hit.chunk.title, "fr"))
        overlap = sum(w for g, w in zip(groups, weight, strict=True) if any(t in sent_terms for t in g)) / total
        score = _match(float(d), overlap, hit.rank, EVIDENCE_RANK_WEIGHT)
        out.append(Evidence(hit, s, e, text, float(d), overlap, score, vec))
    out.sort(key=lambda ev: -ev.score)
    return out


def citation(n: int, ev: Evidence, index: Index, score: float) -> Citation:
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


def is_instruction(sentence: str) -> bool:
    """Whether a sentence reads as an instruction to an AI assistant (a prompt injection)."""
    return bool(_INSTRUCTION_RE.search(sentence))


def quote_score(ev: Evidence, rank_weight: float = QUOTE_RANK_WEIGHT, dense_share: float = QUOTE_DENSE_SHARE) -> float:
    """How much a sentence deserves to be quoted as the answer, once the gate has let it through."""
    return _match(ev.dense, ev.overlap, ev.hit.rank, rank_weight, dense_share)


def _match(dense: float, overlap: float, rank: int, rank_weight: float, dense_share: float = 0.5) -> float:
    """A sentence's dense and lexical match with the question (0.9 between them, `dense_share` of it
    dense) plus its passage's rank."""
    return 0.9 * (dense_share * dense + (1 - dense_share) * overlap) + rank_weight / rank


def support(ev: Evidence) -> float:
    """How strongly one sentence supports an answer (the sentence's part of the gate's value)."""
    return 0.5 * ev.dense + 0.5 * ev.overlap


def gate_support(
    sentence_support: float,
    hits: Sequence[Hit],
    lm_weight: float = GATE_LM_WEIGHT,
    lm_cap: float = GATE_LM_CAP,
    *,
    cross: bool = False,
) -> float:
    """What the gate compares with `min_support`: the best sentence's support, moved by how much
    the top passage raises the question's likelihood under the reranking LM over no passage
    (`Hit.rerank_gain`, capped at `lm_cap`), around a typical answerable question's gain
    (`GATE_LM_OFFSET`). `cross`: the question's language is not the top passage's, and the LM
    weighs more (`GATE_CROSS_LM_WEIGHT`). Without reranking it is the sentence's support alone."""
    gain = hits[0].rerank_gain if hits else None
    if cross:
        return lm_adjusted(
            sentence_support, gain, lm_weight * GATE_CROSS_LM_WEIGHT / GATE_LM_WEIGHT, lm_cap, GATE_CROSS_LM_OFFSET
        )
    return lm_adjusted(sentence_support, gain, lm_weight, lm_cap, GATE_LM_OFFSET)


def question_gate(
    sentence_support: float, hits: Sequence[Hit], index: Index, lang: str, lm_weight: float = GATE_LM_WEIGHT
) -> float:
    """`gate_support` for a question in `lang`: across languages when its top passage's document
    is in another (`crosses_languages`). What both answerers compare with `min_support`."""
    return gate_support(sentence_support, hits, lm_weight, cross=crosses_languages(lang, hits, index))


def crosses_languages(lang: str, hits: Sequence[Hit], index: Index) -> bool:
    """Whether the question (in `lang`) and the document of its top passage differ in language."""
    if not hits:
        return False
    doc = index.documents.get(hits[0].chunk.doc_id)
    return doc is not None and doc.lang != lang


def lm_adjusted(sentence_support: float, gain: float | None, weight: float, cap: float, offset: float) -> float:
    """`gate_support`'s arithmetic: the support plus weight x (min(gain, cap) - offset), within
    0-1; the support alone when there is no gain (no reranking)."""
    if gain is None:
        return sentence_support
    return min(1.0, max(0.0, sentence_support + weight * (min(gain, cap) - offset)))


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


def close_passages(
    citations: Sequence[Citation], hits: Sequence[Hit], margin: float = CLOSE_CALL_MARGIN
) -> tuple[str, ...]:
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


def answer_question(
    question: str,
    hits: list[Hit],
    index: Index,
    embedder: Embedder,
    *,
    threshold: float = Config.min_support,
    rank_weight: float = QUOTE_RANK_WEIGHT,
    second_support: float = SECOND_SENTENCE_SUPPORT,
    dense_share: float = QUOTE_DENSE_SHARE,
    lm_weight: float = GATE_LM_WEIGHT,
    scorer: PassageScorer | None = None,
    quote_lm_weight: float = QUOTE_LM_WEIGHT,
) -> Answer:
    """An extractive answer with verified citations, or a refusal in the question's language.

    `threshold` is the support (`gate_support`, whose LM part weighs `lm_weight`) the evidence needs
    for an answer (the gate, `Config.min_support`); `rank_weight` is how much the passage order
    counts in choosing the sentences to quote; `second_support` is the support a second sentence of
    the best one's passage needs to be quoted (none across languages); `dense_share` is the dense
    similarity's share of a sentence's own match in choosing them; `scorer`, the reranking LM,
    reorders the quoted passage's sentences by what each carries (`lm_ordered`, weight
    `quote_lm_weight`; None: the quote score alone)."""
    lang = detect_lang(question)
    evidence = select_evidence(question, hits, index, embedder, lang) if question.strip() else []
    best_support = question_gate(support(evidence[0]), hits, index, lang, lm_weight) if evidence else 0.0
    if not evidence or best_support < threshold:
        return Answer(
            question=question,
            text=NOT_FOUND[lang],
            answered=False,
            passages=tuple(hits),
            answerer="extractive",
            lang=lang,
            timings={},
            support=best_support,
        )
    ranked = sorted(((quote_score(ev, rank_weight, dense_share), ev) for ev in evidence), key=lambda pair: -pair[0])
    best = ranked[0][1].hit.chunk.chunk_id
    passage = [pair for pair in ranked if pair[1].hit.chunk.chunk_id == best]  # the passage quoted
    if scorer is not None and quote_lm_weight and len(passage) > 1:
        passage = lm_ordered(question, passage, scorer, quote_lm_weight)
    # Across languages a sentence's support says little (see GATE_CROSS_LM_WEIGHT): the best other
    # sentence of the passage is quoted whatever its support.
    floor = 0.0 if crosses_languages(lang, hits, index) else second_support
    chosen = passage[:1] + [(score, ev) for score, ev in passage[1:] if support(ev) >= floor][:1]
    chosen.sort(key=lambda pair: (pair[1].hit.chunk.doc_id, pair[1].start))  # read in document order
    citations = []
    parts = []
    for n, (score, ev) in enumerate(chosen, 1):
        citations.append(citation(n, ev, index, score))
        parts.append(f"{ev.text} [{n}]")
    return Answer(
        question=question,
        text=" ".join(parts),
        answered=True,
        citations=tuple(citations),
        passages=tuple(hits),
        answerer="extractive",
        lang=lang,
        timings={},
        support=best_support,
    )
