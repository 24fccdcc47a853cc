"""The text normalisation shared by BM25, evidence scoring and language detection: apostrophes and
elisions, accent folding, stop words, Snowball stems. Pure functions; no model, no I/O."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..records import Lang

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """`text` with every lone surrogate (not text, though a JSON client or a badly decoded file
    can send one, and tokenizers and UTF-8 encoders reject it) replaced by U+FFFD."""
    return _SURROGATE_RE.sub("\ufffd", text)


MAX_QUESTION_CHARS = 4000  # a question longer than this is cut: no question needs more


def question_text(text: str) -> str:
    """A question as every way in (app, HTTP, MCP) passes it on: valid text, at most
    `MAX_QUESTION_CHARS` characters."""
    return valid_text(text)[:MAX_QUESTION_CHARS]


APOSTROPHES = "'’‘`´ʼ"
_APOS_RE = re.compile(f"[{APOSTROPHES}]")
# French elided articles and pronouns: l'IA, d'employés, qu'il, jusqu'à, lorsqu'on.
_ELISION_RE = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)'(?=\w)", re.I)
_WORD_RE = re.compile(r"\w+", re.UNICODE)

FR_STOP = frozenset(
    """a à ai aie ait as au aux avec avait avaient avoir c ça ce ceci cela celle celles celui ces cet
    cette ci d dans de des du elle elles en es est et été être eu fait fois il ils j je l la le les
    leur leurs lui m ma mais me même mes moi mon n ne ni nos notre nous on ont ou où par pas pour
    qu que quel quelle quelles quels qui s sa sans se ses si son sont sur t ta te tes toi ton tu un
    une vos votre vous y a-t-il est-ce était étaient sera seront serait peut comme plus très aussi
    quoi quand comment combien pourquoi dont lequel laquelle lesquels après avant entre faire fait font""".split()
)
EN_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being have
    has had do does did this that these those it its it's he she they them his her their what which
    who whom whose when where why how i you we me my our your not no so than then there here into
    about over after before between during also can could would should will may might must much many""".split()
)
QUESTION_WORDS = {
    "fr": frozenset("quel quelle quels quelles qui que quoi quand comment combien pourquoi où".split()),
    "en": frozenset("what which who whom whose when where why how".split()),
}


def normalize_apostrophes(text: str) -> str:
    """Map every apostrophe look-alike to ASCII ' (lengths are unchanged: one char for one)."""
    return _APOS_RE.sub("'", text)


def fold_accents(text: str) -> str:
    """Remove diacritics: 'Émission' -> 'Emission'. Used for matching only, never for display."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 18)
def _folded(word: str) -> str:
    """`fold_accents` of one word, remembered: natural text repeats its words (Zipf), and folding
    was most of the time spent re-reading an index's passages (benchmarks/local_growth.py)."""
    return fold_accents(word)


def words(text: str) -> list[str]:
    """Lower-cased words with French elisions removed (apostrophes normalised first)."""
    text = _ELISION_RE.sub(" ", normalize_apostrophes(text).lower())
    return _WORD_RE.findall(text.replace("'", " "))


@lru_cache(maxsize=4)
def _stemmer(lang: str):  # type: ignore[no-untyped-def]
    import Stemmer  # PyStemmer; lazy so `import rag` stays fast

    return Stemmer.Stemmer({"fr": "french", "en": "english"}[lang])


def stems(text: str, lang: Lang) -> list[str]:
    """BM25 terms: words without stop words, Snowball-stemmed in `lang`, then accent-folded.

    Stemming runs before folding because the French Snowball rules read the accents.
    """
    stop = FR_STOP if lang == "fr" else EN_STOP
    ws = [w for w in words(text) if w not in stop]
    stemmed = _stemmer(lang).stemWords(ws)
    return [_folded(s) for s in stemmed]


def query_terms(text: str, lang: Lang) -> list[tuple[str, ...]]:
    """For each content word of a query, its stem variants: in the query's language and, as the
    corpus may hold both languages, in the other one (names and numbers then match either way)."""
    stop = FR_STOP if lang == "fr" else EN_STOP
    ws = [w for w in words(text) if w not in stop]
    other: Lang = "en" if lang == "fr" else "fr"
    primary = _stemmer(lang).stemWords(ws)
    secondary = _stemmer(other).stemWords(ws)
    groups: dict[tuple[str, ...], None] = {}
    for w, p, s in zip(ws, primary, secondary, strict=True):
        variants = (_folded(p),) if w in FR_STOP or w in EN_STOP else (_folded(p), _folded(s))
        groups[tuple(dict.fromkeys(variants))] = None
    return list(groups)


def query_stems(text: str, lang: Lang) -> list[str]:
    """Every stem variant of every query word, once (the BM25 query)."""
    return list(dict.fromkeys(t for group in query_terms(text, lang) for t in group))
