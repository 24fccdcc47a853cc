from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, UnknownDocumentError
from rag.pipeline import RAG
from rag.storage import index as index_io

from .conftest import all_passages, reconfigured

ROOT = Path(__file__).resolve().parent.parent


def test_build_save_load_gives_the_same_hits(tmp_path, embedder, sources_copy, store):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    stats = rag.index([sources_copy], store=store)
    assert stats.documents == 2 and stats.embedded_chunks == stats.chunks > 0
    before = rag.search("Noam Shazeer", k=5)
    again = RAG(tmp_path / "idx", embedder=embedder)
    assert [(h.chunk.chunk_id, round(h.score, 5)) for h in again.search("Noam Shazeer", k=5)] == [
        (h.chunk.chunk_id, round(h.score, 5)) for h in before
    ]
    idx = again.current()
    for c in all_passages(idx):
        assert idx.documents[c.doc_id].text[c.start : c.end] == c.text


def test_reindex_embeds_only_what_changed_and_sync_drops_deleted(tmp_path, embedder, sources_copy, store):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    first = rag.index([sources_copy], store=store)
    unchanged = rag.index([sources_copy])
    assert (unchanged.embedded_chunks, unchanged.unchanged, unchanged.version) == (0, 2, first.version)

    target = sorted(sources_copy.glob("*.md"))[0]
    target.write_text(target.read_text(encoding="utf-8") + "\n\nUn paragraphe ajouté sur les GPU.\n", encoding="utf-8")
    edited = rag.index([sources_copy])
    assert (edited.changed, edited.unchanged) == (1, 1)
    n_target = len(rag.current().passages_of(target.name))
    assert edited.embedded_chunks == n_target < edited.chunks

    (sources_copy / "new.md").write_text("Un nouvel article sur les castors du Canada.", encoding="utf-8")
    target.unlink()
    kept = rag.index([sources_copy])
    assert (kept.added, kept.removed, kept.documents) == (1, 0, 3), "a plain index run never removes"
    assert target.name in {d.doc_id for d in rag.documents()}
    synced = rag.index([sources_copy], sync=True)
    assert (synced.added, synced.removed, synced.removed_ids, synced.embedded_chunks) == (0, 1, (target.name,), 0)
    idx = rag.current()
    assert target.name not in {c.doc_id for c in all_passages(idx)}
    ids = [c.chunk_id for c in all_passages(idx)]
    assert len(ids) == len(set(ids)), "duplicate chunks"
    assert idx.size == len(ids) == synced.chunks, "rows of replaced or removed versions left behind"


def test_unreadable_file_keeps_its_indexed_version(tmp_path, embedder, sources_copy):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    rag.index([sources_copy])
    target = sorted(sources_copy.glob("*.md"))[0]
    target.write_bytes(b"\x00\x01 binary garbage")
    stats = rag.index([sources_copy])
    assert [s.source for s in stats.skipped] == [target.name]
    assert target.name in rag.current().documents


def test_other_embedding_model_or_chunker_is_refused_with_rebuild_hint(tmp_path, embedder, sources_copy):
    RAG(tmp_path / "idx", embedder=embedder).index([sources_copy])
    other = RAG(tmp_path / "idx", config=Config(embedding_model="intfloat/multilingual-e5-small"), embedder=embedder)
    with pytest.raises(IndexMismatchError, match="embedding model.*--rebuild"):
        other.search("x")
    with pytest.raises(IndexMismatchError, match="chunker settings"):
        RAG(tmp_path / "idx", config=Config(chunk_chars=300), embedder=embedder).index([sources_copy])
    rebuilt = RAG(tmp_path / "idx", config=Config(chunk_chars=300), embedder=embedder).index(
        [sources_copy], rebuild=True
    )
    assert rebuilt.embedded_chunks == rebuilt.chunks


def test_settings_are_read_from_the_index(tmp_path, embedder, sources_copy):
    RAG(tmp_path / "idx", config=Config(chunk_chars=300), embedder=embedder).index([sources_copy])
    assert RAG(tmp_path / "idx", embedder=embedder).config.chunk_chars == 300


@pytest.mark.parametrize(
    "damage,match",
    [
        (lambda v: (v / "vectors.npy").write_bytes((v / "vectors.npy").read_bytes()[:100]), "vectors.npy.*--rebuild"),
        (lambda v: (v / "chunks.jsonl").unlink(), "chunks.jsonl is missing"),
        (lambda v: (v / "manifest.json").write_text("{not json", encoding="utf-8"), "manifest.*unreadable"),
        (
            lambda v: (v / "manifest.json").write_text(
                json.dumps({**json.loads((v / "manifest.json").read_text()), "format_version": 99}), encoding="utf-8"
            ),
            "newer than this program",
        ),
    ],
)
def test_damaged_index_gives_a_clear_message(tmp_path, embedder, sources_copy, damage, match):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    rag.index([sources_copy])
    damage(tmp_path / "idx" / index_io.current_version(tmp_path / "idx"))
    with pytest.raises((IndexCorruptError, IndexMismatchError), match=match):
        RAG(tmp_path / "idx", embedder=embedder).search("Noam")


def test_missing_index_says_how_to_build(tmp_path, embedder):
    with pytest.raises(IndexNotFoundError, match="python -m rag index"):
        RAG(tmp_path / "none", embedder=embedder).search("x")


def test_failed_write_leaves_the_previous_version_live(tmp_path, embedder, sources_copy, monkeypatch):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    rag.index([sources_copy])
    live = index_io.current_version(tmp_path / "idx")
    (sources_copy / "new.md").write_text("Un article de plus.", encoding="utf-8")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_io.np, "save", full_disk)
    with pytest.raises(Exception, match="previous index is unchanged"):
        rag.index([sources_copy])
    assert index_io.current_version(tmp_path / "idx") == live
    assert not list((tmp_path / "idx").glob(".v-*"))
    assert RAG(tmp_path / "idx", embedder=embedder).search("Noam")


def test_kill_9_during_indexing_leaves_previous_index_and_next_run_resumes(tmp_path, embedder, sources_copy):
    """A real `python -m rag index` process is killed while embedding a large corpus."""
    idx = tmp_path / "idx"
    RAG(idx, embedder=embedder).index([sources_copy])
    live = index_io.current_version(idx)
    corpus = tmp_path / "big"
    corpus.mkdir()
    for i in range(70):
        body = " ".join(f"Le document {i} parle du sujet {j} avec des détails numéro {i * j}." for j in range(60))
        (corpus / f"doc{i:03d}.md").write_text(body, encoding="utf-8")
    for p in sources_copy.iterdir():
        (corpus / p.name).write_bytes(p.read_bytes())
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "rag", "index", str(corpus), "--index", str(idx), "--json"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not list(idx.glob(".staging/*/shard-*.npz")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "indexing finished before it could be killed: make the corpus larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert index_io.current_version(idx) == live
    assert len(RAG(idx, embedder=embedder).current().documents) == 2

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=True)
    stats = json.loads(done.stdout)
    assert stats["documents"] == 72
    assert stats["embedded_chunks"] < stats["chunks"] - 2, "the resumed run embedded everything again"
    final = RAG(idx, embedder=embedder).current()
    assert len(final.chunks) == stats["chunks"] and len({c.chunk_id for c in final.chunks}) == stats["chunks"]


def test_adding_a_file_keeps_the_folder_and_remove_touches_only_its_document(tmp_path, embedder, sources_copy, store):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    folder = rag.index([sources_copy], store=store)
    extra = tmp_path / "castors.md"
    extra.write_text("# Castors\n\nLes castors du Canada construisent des barrages de 850 mètres.", encoding="utf-8")
    added = rag.index([extra])
    assert (added.added, added.unchanged, added.removed, added.documents) == (1, 0, 0, folder.documents + 1)
    assert added.embedded_chunks == 1
    listed = {d.doc_id: d for d in rag.documents()}
    assert set(listed) == {p.name for p in sources_copy.glob("*.md")} | {"castors.md"}
    assert listed["castors.md"].title == "Castors" and listed["castors.md"].chunks == 1 and listed["castors.md"].indexed
    before = {c.chunk_id: c for c in all_passages(rag.current()) if c.doc_id != "castors.md"}

    with pytest.raises(UnknownDocumentError, match="no document 'nope.md'.*rag list"):
        rag.remove(["castors.md", "nope.md"])
    assert "castors.md" in {d.doc_id for d in rag.documents()}, "nothing removed on an unknown id"
    removed = rag.remove(["castors.md"])
    assert (removed.removed_ids, removed.embedded_chunks, removed.documents) == (("castors.md",), 0, folder.documents)
    after = rag.current()
    assert {c.chunk_id: c for c in all_passages(after)} == before
    assert after.size == len(before)
    assert all(h.chunk.doc_id != "castors.md" for h in rag.search("castors barrages", k=10))


def test_an_update_reuses_the_stored_terms_and_ranks_as_a_fresh_build(tmp_path, embedder, sources_copy):
    """Each version keeps its passages' BM25 terms, so adding a document stems only that document;
    the result ranks exactly as a build of everything at once, and a version written without terms
    (an older index) is still updated correctly."""
    from rag.storage.lexical import TERMS_FILES, passage_terms
    from rag.text.chunking import retrieval_text

    extra = tmp_path / "castors.md"
    extra.write_text("# Castors\n\nLes castors du Canada construisent des barrages de 850 mètres.", encoding="utf-8")
    fresh = RAG(tmp_path / "fresh", embedder=embedder)
    fresh.index([sources_copy, extra])
    queries = ["castors barrages", "Noam Shazeer Character.AI", "salaires des chercheurs en IA"]
    expected = {q: [h.chunk.chunk_id for h in fresh.search(q, k=8, mode="lexical")] for q in queries}

    for legacy in (False, True):
        rag = RAG(tmp_path / f"updated-{legacy}", embedder=embedder)
        rag.index([sources_copy])
        if legacy:  # the same version rewritten without its terms, as before they were kept
            idx = rag.current()
            idx.terms = None
            for name in TERMS_FILES:
                (idx.folder / name).unlink()
            index_io.save(rag.index_dir, idx)
            assert not (rag.current().folder / TERMS_FILES[0]).exists()
        else:
            assert (rag.current().folder / TERMS_FILES[0]).exists()
        rag.index([extra])
        idx = rag.current()
        stored = idx.passage_terms()
        assert stored == [
            passage_terms(retrieval_text(c.title, c.text, rag.config.title_in_chunks), idx.documents[c.doc_id].lang)
            for c in idx.chunks
        ]
        for q in queries:
            assert [h.chunk.chunk_id for h in rag.search(q, k=8, mode="lexical")] == expected[q], (legacy, q)


def test_add_texts_then_ask_cites_the_added_text(tmp_path, embedder, sources_copy):
    rag = reconfigured(RAG(tmp_path / "idx", embedder=embedder), rerank=False)
    rag.index([sources_copy])
    stats = rag.add_texts(
        [
            {
                "title": "Les loutres",
                "text": "La loutre de mer utilise des pierres pour ouvrir les coquillages.",
                "url": "https://example.org/loutres",
            }
        ]
    )
    assert (stats.added, stats.documents) == (1, 3)
    doc = next(d for d in rag.documents() if d.url == "https://example.org/loutres")
    assert (doc.doc_id, doc.lang, doc.source) == ("https://example.org/loutres", "fr", "https://example.org/loutres")
    answer = rag.ask("Qu'utilise la loutre de mer pour ouvrir les coquillages ?")
    assert answer.answered and answer.citations
    c = answer.citations[0]
    assert c.doc_id == doc.doc_id and rag.current().documents[c.doc_id].text[c.start : c.end] == c.quote
    again = rag.add_texts([{"doc_id": doc.doc_id, "title": "Les loutres", "text": "La loutre dort sur le dos."}])
    assert (again.added, again.changed, again.documents) == (0, 1, 3)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([{"title": "sans texte"}], "text 1.*non-empty"),
        (["juste une chaîne"], "text 1 is a str"),
        ([{"text": "a", "auteur": "x"}], "unknown field.*'auteur'"),
        ([{"text": "a", "lang": "de"}], "lang 'de' is not supported"),
        ([{"text": "a", "doc_id": "x"}, {"text": "b", "doc_id": "x"}], "text 2.*given twice"),
    ],
)
def test_add_texts_refuses_bad_items_and_changes_nothing(tmp_path, texts, message):
    rag = RAG(tmp_path / "idx")
    with pytest.raises(ValueError, match=message):
        rag.add_texts(texts)
    assert not index_io.exists(tmp_path / "idx")
