"""The app's two languages: the same strings in each, the language chosen from Accept-Language, and
the answer's [n] markers as links to their citations (and back to plain markers for the history)."""

from __future__ import annotations

import importlib
import string

import pytest

from rag.app_text import TEXTS, ui_lang
from rag.records import Answer, Citation


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),
        ("en-US,en;q=0.9,fr;q=0.8", "en"),
        ("fr-CA", "fr"),
        ("de-DE,de;q=0.9", "en"),
        ("de-DE,de;q=0.9,fr;q=0.5", "fr"),
        ("en;q=0.3, fr;q=0.7", "fr"),
        ("fr;q=bad, en", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_the_ui_language_follows_accept_language(header, lang):
    assert ui_lang(header) == lang


def test_both_languages_have_every_string_with_the_same_placeholders():
    def placeholders(text: str) -> set[str]:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field}

    fields = {lang: {key: placeholders(v) for key, v in texts.items()} for lang, texts in TEXTS.items()}
    assert fields["fr"] == fields["en"]
    assert all(v.strip() for t in TEXTS.values() for v in t.values())


def test_markers_link_to_their_citations_and_back():
    app = importlib.import_module("app")
    citation = Citation(1, "a.md", "Castors", "a.md", "", "Les castors vivent.", 0, 19, 0.5, "a.md#0")
    answer = Answer("q", "Les castors vivent. [1] Et [3].", True, (citation,), unsupported=("Et [3].",))
    text = app.chat_text(answer, "en")
    assert "[\\[1\\]](#citation-1)" in text and "[3]" in text and "#citation-3" not in text  # [3] cites nothing
    assert "⚠ Not verified in the sources" in text
    assert app.plain_markers(text).startswith("Les castors vivent. [1] Et [3].")
