"""The language of a text (French or English), decided from stop words, question words and accents.
Pure function; callers decide once per question (`query.read_query`) and pass the result on."""

from __future__ import annotations

from ..records import Lang
from .terms import EN_STOP, FR_STOP, QUESTION_WORDS, words


def detect_lang(text: str, default: Lang = "fr") -> Lang:
    """French or English by stop-word and accent evidence; `default` when there is no evidence."""
    ws = words(text[:5000])
    if not ws:
        return default
    fr: float = sum(w in FR_STOP for w in ws) + sum(w in QUESTION_WORDS["fr"] for w in ws)
    en = sum(w in EN_STOP for w in ws) + sum(w in QUESTION_WORDS["en"] for w in ws)
    fr += sum(1 for c in text[:5000] if c in "éèêàùçôîâû") / 2
    if fr == en:
        return default
    return "fr" if fr > en else "en"
