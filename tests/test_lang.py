from __future__ import annotations

import pytest

from rag.text.lang import detect_lang
from rag.text.terms import fold_accents, query_stems, stems, words


@pytest.mark.parametrize(
    "a,b",
    [
        ("l'IA", "IA"),
        ("l’IA", "ia"),
        ("d’employés", "employé"),
        ("jusqu'à présent", "présent"),
        ("Émission", "emission"),
        ("réembauché", "réembaucher"),
        ("payé", "payer"),
    ],
)
def test_french_variants_share_stems(a, b):
    assert set(stems(a, "fr")) & set(stems(b, "fr"))


def test_english_stemming_and_stop_words():
    assert stems("The researchers were running", "en") == ["research", "run"]


def test_elisions_are_removed_for_every_apostrophe():
    assert words("l'IA, d’employés, qu‘il") == ["ia", "employés", "il"]


def test_accent_folding_is_for_matching_only():
    assert fold_accents("Ça élève") == "Ca eleve"


@pytest.mark.parametrize(
    "text,lang",
    [
        ("Combien Google a-t-il payé pour faire revenir Noam Shazeer ?", "fr"),
        ("How much did Google pay to bring back Noam Shazeer?", "en"),
        ("Qui est le PDG d'OpenAI ?", "fr"),
        ("What is the capital of France?", "en"),
    ],
)
def test_detect_lang(text, lang):
    assert detect_lang(text) == lang


def test_query_stems_include_the_other_language_for_names():
    terms = query_stems("How much did Google pay for Shazeer?", "en")
    assert "googl" in terms and "shazeer" in terms
