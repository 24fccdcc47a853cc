"""The language of a text (French or English). Callers decide once per question
(`query.read_query`) and pass the result on.

A character n-gram classifier (py3langid, restricted to French and English) decides; words in
quotes are left out first (in "What does « levée de fonds » mean?" the question is English). When
the classifier is close to a coin toss, French and English stop words and question words decide,
and when they say nothing either, `default` (the earlier question's language for a follow-up).
BENCHMARKS.md, "Question language", measures it on `tests/data/languages.jsonl`.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from ..records import Lang
from .terms import EN_STOP, FR_STOP, QUESTION_WORDS, words

MAX_CHARS = 5000  # a document's language shows in its first pages
UNSURE = 0.6  # classifier probabilities below this are a near coin toss between the two languages
_QUOTED = re.compile(r"«[^»]*»|“[^”]*”|\"[^\"]*\"")
_classifier: Any = None
_classifier_lock = threading.Lock()


def detect_lang(text: str, default: Lang = "fr") -> Lang:
    """French or English; `default` when `text` gives no evidence (no words, only names or numbers)."""
    text = text[:MAX_CHARS]
    unquoted = _QUOTED.sub(" ", text)
    if words(unquoted):
        text = unquoted
    if not words(text):
        return default
    lang, probability = _classify(text)
    if probability >= UNSURE:
        return lang
    evidence = stop_word_evidence(text)
    if evidence:
        return "fr" if evidence > 0 else "en"
    return lang if probability > 0.51 else default  # 0.5: the classifier saw nothing it knows


def stop_word_evidence(text: str) -> float:
    """French minus English evidence: stop words, question words, and half a point per accent."""
    ws = words(text)
    fr: float = sum(w in FR_STOP for w in ws) + sum(w in QUESTION_WORDS["fr"] for w in ws)
    en = sum(w in EN_STOP for w in ws) + sum(w in QUESTION_WORDS["en"] for w in ws)
    fr += sum(1 for c in text if c in "éèêàùçôîâû") / 2
    return fr - en


def _classify(text: str) -> tuple[Lang, float]:
    global _classifier
    with _classifier_lock:
        if _classifier is None:  # ~0.4 s and ~75 MB, once per process
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            classifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            classifier.set_languages(["fr", "en"])
            _classifier = classifier
    lang, probability = _classifier.classify(text)
    return ("en" if lang == "en" else "fr"), float(probability)
