from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.records import Document
from rag.text.chunking import chunk_document, split_sentences

TEXT_ALPHABET = st.sampled_from(list("abcdeéèàçôî ABCÉ .,;:!?…«»’'\n\t-0123456789") + ["😀", "Noam", " M. ", "l’IA"])


def _doc(text: str) -> Document:
    return Document(doc_id="d.md", title="Titre", text=text, source="d.md")


def _check(doc: Document, chunks, max_tokens: int, embedder) -> None:
    covered = [False] * len(doc.text)
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.text == c.text.strip() and c.text
        for i in range(c.start, c.end):
            covered[i] = True
    missing = [i for i, ch in enumerate(doc.text) if not ch.isspace() and not covered[i]]
    assert not missing, f"characters not in any chunk: {missing[:10]}"
    if chunks:
        assert max(embedder.count_tokens([c.text for c in chunks])) <= max_tokens


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.lists(TEXT_ALPHABET, min_size=0, max_size=400).map("".join),
    chunk_chars=st.integers(20, 900),
    overlap=st.integers(0, 2),
)
def test_chunks_have_exact_offsets_cover_the_text_and_fit_the_model(text, chunk_chars, overlap, embedder):
    doc = _doc(text)
    max_tokens = embedder.max_passage_tokens("Titre\n")
    chunks = chunk_document(
        doc,
        chunk_chars=chunk_chars,
        overlap_sentences=overlap,
        max_tokens=max_tokens,
        count_tokens=embedder.count_tokens,
    )
    _check(doc, chunks, max_tokens, embedder)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mot",
        "😀" * 3,
        "x" * 5000,  # one "word" longer than the model window
        ("Phrase très longue sans point " * 300),  # one sentence longer than the model window
        "Premier paragraphe.\n\nSecond paragraphe. Avec deux phrases !",
    ],
)
def test_edge_cases(text, embedder):
    doc = _doc(text)
    max_tokens = embedder.max_passage_tokens("Titre\n")
    chunks = chunk_document(
        doc, chunk_chars=650, overlap_sentences=1, max_tokens=max_tokens, count_tokens=embedder.count_tokens
    )
    _check(doc, chunks, max_tokens, embedder)
    assert bool(chunks) == bool(text.strip())


def test_french_sentences_keep_abbreviations_and_split_on_punctuation():
    text = "M. Rao a parlé. « C’est réel », dit-il ! Qui paie ? Le marché… Il croît.\nNouvelle ligne"
    got = [text[s:e] for s, e in split_sentences(text)]
    assert got == [
        "M. Rao a parlé.",
        "« C’est réel », dit-il !",
        "Qui paie ?",
        "Le marché…",
        "Il croît.",
        "Nouvelle ligne",
    ]


def test_chunk_size_tracks_the_character_target(embedder):
    text = " ".join(f"Ceci est la phrase numéro {i} de ce long document." for i in range(200))
    chunks = chunk_document(
        _doc(text),
        chunk_chars=650,
        overlap_sentences=1,
        max_tokens=embedder.max_passage_tokens(),
        count_tokens=embedder.count_tokens,
    )
    sizes = [len(c.text) for c in chunks]
    assert max(sizes) <= 650 and min(sizes[:-1]) >= 400
    assert chunks[1].start < chunks[0].end  # one sentence of overlap
