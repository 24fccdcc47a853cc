"""Citation verification of generated text, on the real seed index and the real embedding model."""

from __future__ import annotations

import pytest

from rag.answer.evidence import select_evidence
from rag.answer.verify import parse_claims, verify
from rag.query import read_query

QUESTION = "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?"


def _verify(rag, question, text):
    idx = rag.current()
    hits = rag.search(question)
    query = read_query(question)
    evidence = select_evidence(query, hits, idx, rag.embedder, rag.config)
    threshold = rag.config.tuned.claim_threshold
    return verify(text, evidence, len(hits), idx, rag.embedder, query.lang, threshold=threshold), hits, idx


def _passage_of(hits, needle):
    return next(h.rank for h in hits if needle in h.chunk.text)


def _assert_exact(idx, result):
    for c in result.citations:
        assert idx.documents[c.doc_id].text[c.start : c.end] == c.quote


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Il a payé [1]. Puis [2, 3] il est parti.", [("Il a payé.", (1,)), ("Puis il est parti.", (2, 3))]),
        ("Une phrase.[1][2]", [("Une phrase.", (1, 2))]),
        ("Une phrase. [4]", [("Une phrase.", (4,))]),
        ("Sans marqueur.", [("Sans marqueur.", ())]),
        ("", []),
    ],
)
def test_parse_claims(text, expected):
    assert [(c.text, c.cited) for c in parse_claims(text)] == expected


def test_a_correct_marker_is_kept_with_the_exact_supporting_span(seed_rag):
    _, hits, idx = _verify(seed_rag, QUESTION, "")
    n = _passage_of(hits, "2,7 milliards")
    result, _, _ = _verify(seed_rag, QUESTION, f"Google aurait payé 2,7 milliards de dollars pour Noam Shazeer [{n}].")
    assert result.text.endswith("[1].") and len(result.citations) == 1
    assert "2,7 milliards" in result.citations[0].quote
    assert result.unsupported == () and result.reattributed == 0
    _assert_exact(idx, result)


def test_a_wrong_marker_is_moved_to_the_passage_that_supports_the_claim(seed_rag):
    _, hits, idx = _verify(seed_rag, QUESTION, "")
    right = _passage_of(hits, "2,7 milliards")
    wrong = next(h.rank for h in hits if "2,7 milliards" not in h.chunk.text)
    result, _, _ = _verify(
        seed_rag, QUESTION, f"Google aurait payé 2,7 milliards de dollars pour Noam Shazeer [{wrong}]."
    )
    assert result.reattributed == 1 and right != wrong
    assert "2,7 milliards" in result.citations[0].quote
    _assert_exact(idx, result)


def test_markers_naming_no_passage_are_dropped_and_missing_ones_added(seed_rag):
    result, _, idx = _verify(seed_rag, QUESTION, "Google aurait payé 2,7 milliards de dollars pour Noam Shazeer [9].")
    assert result.dropped_markers == 1 and result.added == 1
    assert "[9]" not in result.text and "[1]" in result.text
    _assert_exact(idx, result)


def test_a_claim_no_passage_supports_is_listed_as_unsupported(seed_rag):
    wrong_number = "Google a payé 1,7 milliard de dollars pour Noam Shazeer [1]."
    invented = "Le siège de Databricks est peint en vert fluo [2]."
    result, _, _ = _verify(seed_rag, QUESTION, f"{wrong_number} {invented}")
    assert result.citations == ()
    assert result.unsupported == ("Google a payé 1,7 milliard de dollars pour Noam Shazeer.", invented[:-5] + ".")
    assert "[" not in result.text


def test_two_claims_citing_the_same_sentence_share_one_citation(seed_rag):
    claim = "Google aurait payé 2,7 milliards de dollars pour ramener Noam Shazeer [1]."
    result, _, _ = _verify(seed_rag, QUESTION, f"{claim} {claim}")
    assert len(result.citations) == 1 and result.text.count("[1]") == 2
