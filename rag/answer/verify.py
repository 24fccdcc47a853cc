"""Citation verification for generated answers.

A language model's `[n]` markers are claims, not facts. Each sentence of a generated answer is
checked against the sentences of the passages it was shown: the marker is kept when the cited
passage holds a span that supports the sentence (that span becomes the citation's `quote`), moved to
the passage that does when the cited one does not, added when the sentence had none, and the
sentence is listed as unsupported when no passage supports it. Markers naming no passage are dropped.
Every returned citation satisfies `doc.text[start:end] == quote`. No model loading, no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..records import Citation, Lang
from ..text.chunking import split_sentences
from ..text.terms import stems
from .evidence import Evidence, citation

if TYPE_CHECKING:
    from ..models.embed import Embedder
    from ..storage.index import AnyIndex

# "[1]", "[1, 3]", "[1][2]", "[1;2]" with the space before them.
MARKER_RE = re.compile(r"\s*\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class Claim:
    """One sentence of a generated answer: its text without markers and the passages it cites."""

    text: str
    cited: tuple[int, ...]


@dataclass(frozen=True)
class Verified:
    """The verified answer: text with renumbered markers, its citations and unsupported sentences."""

    text: str
    citations: tuple[Citation, ...]
    unsupported: tuple[str, ...]
    reattributed: int
    added: int
    dropped_markers: int


def parse_claims(text: str) -> list[Claim]:
    """The sentences of `text`, each with the passage numbers its markers name (in order, once)."""
    claims = []
    for s, e in split_sentences(text):
        sentence = text[s:e]
        cited = []
        for m in MARKER_RE.finditer(sentence):
            cited += [int(n) for n in re.split(r"\s*[,;]\s*", m.group(1))]
        bare = MARKER_RE.sub("", sentence).strip()
        if bare and not bare.strip(" .,;:!?…»«\"'()-"):
            bare = ""  # only punctuation left (a marker on its own line)
        if bare:
            claims.append(Claim(bare, tuple(dict.fromkeys(cited))))
        elif cited and claims:
            prev = claims[-1]  # "... texte. [2]" : the marker belongs to the sentence before
            claims[-1] = Claim(prev.text, tuple(dict.fromkeys(prev.cited + tuple(cited))))
    return claims


def verify(
    text: str,
    evidence: list[Evidence],
    n_passages: int,
    index: AnyIndex,
    embedder: Embedder,
    lang: Lang,
    *,
    threshold: float,
) -> Verified:
    """Check every claim of `text` against the passage sentences in `evidence`.

    Args:
        text: the generated answer, with `[n]` markers numbering the passages from 1.
        evidence: the passage sentences (from `answer.select_evidence`, with their vectors).
        n_passages: how many passages the prompt numbered; a marker outside 1..n_passages is dropped.
        index, embedder, lang: the loaded index, the embedding model and the answer's language.
        threshold: the support a span needs: 0.5 x cosine + 0.5 x the share of the claim's stems
            found in it, every number of the claim in it too (`Tuned.claim_threshold`).
    """
    claims = parse_claims(text)
    dropped = sum(1 for c in claims for n in c.cited if not 1 <= n <= n_passages)
    if not claims:
        return Verified("", (), (), 0, 0, dropped)
    vecs = embedder.embed_passages([c.text for c in claims])
    ev_vecs = np.stack([ev.vec for ev in evidence]) if evidence else np.zeros((0, vecs.shape[1]), "float32")
    ev_terms = [set(stems(ev.text, lang)) | set(stems(ev.text, "en" if lang == "fr" else "fr")) for ev in evidence]
    ev_numbers = [_numbers(ev.text) for ev in evidence]
    dense = vecs @ ev_vecs.T if len(evidence) else np.zeros((len(claims), 0))

    spans: dict[tuple[str, int], int] = {}  # (doc_id, start) -> citation number
    citations: list[Citation] = []
    parts: list[str] = []
    unsupported: list[str] = []
    reattributed = added = 0
    for i, claim in enumerate(claims):
        terms = set(stems(claim.text, lang))
        numbers = _numbers(claim.text)
        scores = []
        for j in range(len(evidence)):
            coverage = len(terms & ev_terms[j]) / len(terms) if terms else 0.0
            ok_numbers = numbers <= ev_numbers[j]
            scores.append((0.5 * float(dense[i, j]) + 0.5 * coverage) if ok_numbers else 0.0)
        valid = frozenset(n for n in claim.cited if 1 <= n <= n_passages)
        best = _best(evidence, scores, threshold, functools.partial(_cites, valid))
        if best is None:
            best = _best(evidence, scores, threshold, lambda ev: True)
            if best is not None:
                reattributed += bool(valid)
                added += not valid
        if best is None:
            if terms:  # a sentence with content that nothing supports
                unsupported.append(claim.text)
            parts.append(claim.text)
            continue
        ev = evidence[best]
        key = (ev.hit.chunk.doc_id, ev.start)
        if key not in spans:
            spans[key] = len(citations) + 1
            citations.append(citation(spans[key], ev, index, scores[best]))
        parts.append(_with_marker(claim.text, spans[key]))
    return Verified(" ".join(parts), tuple(citations), tuple(unsupported), reattributed, added, dropped)


def _numbers(text: str) -> set[str]:
    """The numbers of a text ("2,7", "10 000" read as "10000": thin and no-break spaces dropped)."""
    return set(_NUMBER_RE.findall(text.replace("\u202f", "").replace("\xa0", "")))


def _cites(valid: frozenset[int], ev: Evidence) -> bool:
    return ev.hit.rank in valid


def _best(
    evidence: list[Evidence], scores: list[float], threshold: float, allowed: Callable[[Evidence], bool]
) -> int | None:
    pool = [j for j, ev in enumerate(evidence) if allowed(ev) and scores[j] >= threshold]
    return max(pool, key=lambda j: scores[j]) if pool else None


def _with_marker(sentence: str, n: int) -> str:
    """'Il a payé 2,7 milliards.' -> 'Il a payé 2,7 milliards [1].'"""
    m = re.search(r"[.!?…]+[\"'»”’)\]]*$", sentence)
    if m:
        return f"{sentence[: m.start()]} [{n}]{sentence[m.start() :]}"
    return f"{sentence} [{n}]"
