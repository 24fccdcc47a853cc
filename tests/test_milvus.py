"""The index held in Milvus (`--store milvus`), against real Milvus Lite: updates write only the rows
of what changed, a killed update never shows half a document and a re-run completes it, a rebuild
switches generations whole under a searching client, and a serving process needs no local folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import IndexCorruptError, IndexMismatchError, RagError
from rag.pipeline import RAG
from rag.storage import milvus
from rag.storage.milvus import MilvusIndex, client_for, close

from .conftest import all_passages

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def _rows(rag):
    """Every row of a document in the index's two collections: pk -> (doc_id, hash) (the update
    stamp and the term counts left out)."""
    idx = rag.current()
    client = client_for(idx.uri)
    out = {}
    for coll, expr in ((idx.passages_collection, "pk >= 0"), (idx.documents_collection, "part >= -2")):
        for r in client.query(coll, filter=expr, output_fields=["doc_id", "hash"]):
            out[(coll, r["pk"])] = (r["doc_id"], r["hash"])
    return out


def _counts_exact(rag):
    """The document frequencies the index stores are those of its passages."""
    from collections import Counter

    idx = rag.current()
    rows = client_for(idx.uri).query(idx.passages_collection, filter="pk >= 0", output_fields=["terms"])
    truth = Counter(t for r in rows for t in set(r["terms"].split()) if r["terms"] != "_")
    stored, n = idx.document_frequencies(list(truth) + ["jamais-vu"])
    assert stored == dict(truth) and n == len(rows)


def _whole(idx):
    """Every document shows one version: its live passages, as many as its head says, each the
    exact span of its text."""
    for d in idx.indexed_documents():
        passages = idx.passages_of(d.doc_id)
        text = idx.documents[d.doc_id].text
        assert len(passages) == d.chunks > 0
        assert all(text[c.start : c.end] == c.text for c in passages)


def test_adding_changing_removing_one_document_writes_only_its_rows(tmp_path, embedder, sources_copy):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    first = rag.index([sources_copy], store="milvus")
    collection = rag.current().passages_collection
    before = _rows(rag)
    assert first.written_rows == len(before)  # passages, text parts and heads of the two articles

    extra = tmp_path / "castors.md"
    extra.write_text("# Castors\n\nLes castors du Canada construisent des barrages de 850 mètres.", encoding="utf-8")
    added = rag.index([extra])
    after = _rows(rag)
    mine = {k: v for k, v in after.items() if v[0] == "castors.md"}
    assert {k: v for k, v in after.items() if v[0] != "castors.md"} == before, "another document's rows changed"
    assert added.written_rows == len(mine) == 3  # one passage, one text part, one head
    assert rag.current().passages_collection == collection, "an update makes no new collection"
    _counts_exact(rag)

    extra.write_text("# Castors\n\nLes castors d'Europe construisent des huttes de branches.", encoding="utf-8")
    changed = rag.index([extra])
    again = _rows(rag)
    assert changed.changed == 1 and {k: v for k, v in again.items() if v[0] != "castors.md"} == before
    hashes = {h for d, h in again.values() if d == "castors.md"}
    assert len(hashes) == 1 and hashes != {h for _, h in mine.values()}, "the old version's rows are gone"
    assert rag.search("huttes de branches", k=1)[0].chunk.doc_id == "castors.md"
    _counts_exact(rag)

    rag.remove(["castors.md"])
    _counts_exact(rag)
    assert _rows(rag) == before
    assert all(h.chunk.doc_id != "castors.md" for h in rag.search("castors barrages huttes", k=10))


def test_a_local_update_rewrites_every_passage_where_milvus_writes_one_document(tmp_path, embedder, sources_copy):
    local = RAG(tmp_path / "local", embedder=embedder)
    built = local.index([sources_copy])
    extra = tmp_path / "castors.md"
    extra.write_text("Les castors du Canada construisent des barrages.", encoding="utf-8")
    assert local.index([extra]).written_rows == built.chunks + 1
    milvus = RAG(tmp_path / "milvus", embedder=embedder)
    milvus.index([sources_copy], store="milvus")
    assert milvus.index([extra]).written_rows == 3


_KILLER = """
import os, signal, sys
from rag.pipeline import RAG
from rag.storage import milvus

point, index, sources = sys.argv[1:]
upsert, call = milvus.MilvusIndex._upsert, milvus.MilvusIndex._call

def killing_upsert(self, collection, rows):
    if point == "before-commit" and rows and rows[0].get("part") == -1:  # the heads: the commit point
        os.kill(os.getpid(), signal.SIGKILL)
    upsert(self, collection, rows)

def killing_call(self, method, *args, **kwargs):
    if point == "after-commit" and method == "delete" and args[0].endswith("_p"):
        os.kill(os.getpid(), signal.SIGKILL)  # the new heads are in, the old rows not yet deleted
    return call(self, method, *args, **kwargs)

milvus.MilvusIndex._upsert, milvus.MilvusIndex._call = killing_upsert, killing_call
RAG(index).index([sources])
"""


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before-commit", "after-commit"])
def test_an_update_killed_half_way_never_shows_half_a_document_and_a_rerun_completes_it(
    tmp_path, embedder, sources_copy, point
):
    idx = tmp_path / "idx"
    RAG(idx, embedder=embedder).index([sources_copy], store="milvus")
    target = sorted(sources_copy.glob("*.md"))[0]
    target.write_text(
        target.read_text(encoding="utf-8") + "\n\nL'ornithorynque du Queensland pond des œufs depuis 1799.\n",
        encoding="utf-8",
    )
    (sources_copy / "new.md").write_text("# Wombats\n\nLes wombats de Tasmanie creusent des terriers.", "utf-8")
    close(str(idx / "milvus.db"))  # Milvus Lite: one process at a time
    done = subprocess.run(
        [sys.executable, "-c", _KILLER, point, str(idx), str(sources_copy)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == -9, done.stderr[-2000:]

    rag = RAG(idx, embedder=embedder)
    view = rag.current()
    _whole(view)
    listed = {d.doc_id for d in view.indexed_documents()}
    stored = sum(d.chunks for d in view.indexed_documents())
    assert view.size > stored, "the killed run left rows of another version (the test killed too early)"
    top = rag.search("ornithorynque Queensland œufs", k=1)[0]
    new_text = "ornithorynque" in view.documents[target.name].text
    assert new_text == (point == "after-commit") == ("new.md" in listed)
    assert ("ornithorynque" in top.chunk.text) == new_text, "a passage of a version its document is not at"

    rerun = rag.index([sources_copy])
    assert rerun.embedded_chunks == 0, "what the killed run embedded is reused"
    view = rag.current()
    _whole(view)
    assert {d.doc_id for d in view.indexed_documents()} == {p.name for p in sources_copy.glob("*.md")}
    assert view.size == sum(d.chunks for d in view.indexed_documents()), "rows of the old version remain"
    assert "ornithorynque" in rag.search("ornithorynque Queensland œufs", k=1)[0].chunk.text


@pytest.mark.slow
def test_a_rebuild_while_another_client_searches_shows_one_whole_generation(tmp_path, embedder, sources_copy):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    built = rag.index([sources_copy], store="milvus")
    reader = RAG(tmp_path / "idx", embedder=embedder)
    stop, seen, errors = threading.Event(), [], []

    def search() -> None:
        while not stop.is_set():
            try:
                view = reader.current()
                docs = view.indexed_documents()
                hits = reader.search("Noam Shazeer Google", k=5)
                seen.append((view.passages_collection, view.size, len(docs), len(hits)))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    thread = threading.Thread(target=search)
    thread.start()
    try:
        for _ in range(2):
            rag.index([sources_copy], rebuild=True)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
    assert len({s[0] for s in seen}) >= 2, "the searches never saw the rebuilt generation"
    assert all(s[1:] == (built.chunks, 2, 5) for s in seen), [s for s in seen if s[1:] != (built.chunks, 2, 5)][:3]
    client = client_for(rag.current().uri)
    generations = {c[: -len("_p")] for c in client.list_collections() if c.endswith("_p")}
    assert len(generations) == 2, "the live generation and the one before it are kept, older ones dropped"


def test_a_serving_process_with_no_index_folder_answers_with_a_verified_citation(tmp_path, embedder, sources_copy):
    uri = str(tmp_path / "milvus" / "index.db")
    (tmp_path / "milvus").mkdir()
    RAG(tmp_path / "indexer", config=Config(milvus_uri=uri), embedder=embedder).index([sources_copy])
    serving = RAG(tmp_path / "absent", config=Config(milvus_uri=uri), embedder=embedder)
    answer = serving.ask("Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
    assert answer.answered and "2,7 milliards" in answer.text
    texts = {p.name: p.read_text(encoding="utf-8") for p in sources_copy.glob("*.md")}
    documents = serving.current().documents  # fetched from Milvus: the text a citation's offsets point into
    for c in answer.citations:
        assert documents[c.doc_id].text[c.start : c.end] == c.quote and c.quote in texts[c.doc_id]
    assert not (tmp_path / "absent").exists(), "the serving process wrote a local folder"
    assert {d.doc_id for d in serving.documents()} == set(texts)
    assert len(all_passages(serving.current())) == serving.current().size


def test_another_model_or_a_missing_collection_is_a_clear_error(tmp_path, embedder, sources_copy):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    rag.index([sources_copy], store="milvus")
    idx = rag.current()
    client = client_for(idx.uri)
    settings = {**idx.settings, "embedding_model": "other/model"}
    settings.pop("documents")
    client.alter_collection_properties(idx.passages_collection, {"rag.settings": json.dumps(settings)})
    milvus._settings_seen.clear()  # a generation's settings never change: this process read them once
    with pytest.raises(IndexMismatchError, match="embedding model 'other/model'.*--rebuild"):
        RAG(tmp_path / "idx", config=Config(), embedder=embedder).search("Noam")
    client.drop_collection(idx.documents_collection)
    with pytest.raises(IndexCorruptError, match=f"{idx.documents_collection} is missing.*--rebuild"):
        RAG(tmp_path / "idx", config=Config(), embedder=embedder).search("Noam")
    stats = RAG(tmp_path / "idx", config=Config(), embedder=embedder).index([sources_copy], rebuild=True)
    assert stats.chunks > 0 and RAG(tmp_path / "idx", embedder=embedder).search("Noam", k=1)


def test_a_local_index_cannot_be_turned_back_in_place(tmp_path, embedder, sources_copy):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    rag.index([sources_copy], store="milvus")
    with pytest.raises(RagError, match="held in Milvus.*another --index folder"):
        rag.index([sources_copy], store="flat")


def test_milvus_and_faiss_agree(seed_rag, tmp_path_factory):
    from .conftest import with_store

    milvus = with_store(seed_rag, ROOT / "sources", "milvus", tmp_path_factory)
    assert isinstance(milvus.current(), MilvusIndex)
    terms = ["talent", "googl", "shazeer", "intelligent", "jamais-vu"]
    local_idf, milvus_idf = seed_rag.current().lexical.idf(terms), milvus.current().lexical.idf(terms)
    assert milvus_idf == pytest.approx(local_idf) and milvus.current().lexical.idf_of_df(1) == pytest.approx(
        seed_rag.current().lexical.idf_of_df(1)
    )
    for q in ("Combien Google a-t-il payé pour faire revenir Noam Shazeer ?", "Who is Naveen Rao?", "LeBron James"):
        for mode in ("dense", "lexical", "hybrid"):
            a = [h.chunk.chunk_id for h in seed_rag.search(q, k=5, mode=mode)]
            b = [h.chunk.chunk_id for h in milvus.search(q, k=5, mode=mode)]
            assert a[:3] == b[:3] or len(set(a) & set(b)) >= 4, (q, mode, a, b)


def test_milvus_lite_file_held_by_another_process_is_a_clear_error(tmp_path, embedder, sources_copy):
    rag = RAG(tmp_path / "idx", embedder=embedder)
    rag.index([sources_copy], store="milvus")  # this process now holds idx/milvus.db
    out = subprocess.run(
        [sys.executable, "-m", "rag", "search", "Noam", "--index", str(tmp_path / "idx")],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 1 and "one process at a time" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_rag_migrate_moves_a_local_index_and_the_cli_serves_it(tmp_path, embedder, sources_copy):
    RAG(tmp_path / "idx", embedder=embedder).index([sources_copy])
    uri = str(tmp_path / "shared.db")
    run = dict(cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    rag = [sys.executable, "-m", "rag"]
    moved = subprocess.run([*rag, "migrate", "--index", str(tmp_path / "idx"), "--milvus-uri", uri, "--json"], **run)
    assert moved.returncode == 0, moved.stderr
    stats = json.loads(moved.stdout)
    assert stats["documents"] == 2 and stats["embedded_chunks"] == 0 and stats["written_rows"] > stats["chunks"]
    elsewhere = ["--index", str(tmp_path / "none"), "--milvus-uri", uri]
    listed = subprocess.run([*rag, "list", *elsewhere, "--json"], **run)
    assert sorted(d["doc_id"] for d in json.loads(listed.stdout)) == sorted(p.name for p in sources_copy.glob("*.md"))
    out = subprocess.run([*rag, "search", "Noam Shazeer", *elsewhere, "--no-rerank", "--json"], **run)
    assert out.returncode == 0, out.stderr
    assert "Shazeer" in json.loads(out.stdout)[0]["chunk"]["text"]
    again = subprocess.run([*rag, "migrate", "--index", str(tmp_path / "idx"), "--milvus-uri", uri], **run)
    assert again.returncode == 1 and "already holds an index" in again.stderr
    held = {p.name for p in (tmp_path / "none").iterdir()} if (tmp_path / "none").exists() else set()
    assert held <= {"models"}, f"only the embedding model's converted copy is kept locally, not {held}"


@pytest.mark.slow
def test_two_app_replicas_serve_one_milvus_server_and_see_its_updates(tmp_path, embedder, sources_copy):
    """The deployment of docs/deployment.md on one machine: Milvus Lite as a server process, an
    indexer, and two `app.py --serve-only` replicas with no index folder of their own."""
    import requests

    from .conftest import free_port, serve

    port = free_port()
    milvus = [str(Path(sys.executable).with_name("milvus-lite")), "server", "--data-dir", str(tmp_path / "data")]
    with serve([*milvus, "--port", str(port)], port, tmp_path / "milvus.log"):
        uri = f"http://127.0.0.1:{port}"
        indexer = RAG(tmp_path / "scratch", config=Config(milvus_uri=uri), embedder=embedder)
        indexer.index([sources_copy])
        replicas = [free_port(), free_port()]
        app = [sys.executable, "app.py", "--serve-only", "--milvus-uri", uri, "--no-rerank"]
        with (
            serve(
                [*app, "--port", str(replicas[0]), "--index", str(tmp_path / "r0")], replicas[0], tmp_path / "r0.log"
            ),
            serve(
                [*app, "--port", str(replicas[1]), "--index", str(tmp_path / "r1")], replicas[1], tmp_path / "r1.log"
            ),
        ):
            config = requests.get(f"http://127.0.0.1:{replicas[0]}/config", timeout=60).json()
            panel = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "article-management"]
            assert panel and panel[0]["props"]["visible"] is False, "a replica offers uploads and removals"
            question = {"question": "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?"}
            for p in replicas:
                answer = requests.post(f"http://127.0.0.1:{p}/api/ask", json=question, timeout=300).json()
                assert answer["answered"] and "2,7 milliards" in answer["text"], answer
                documents = indexer.current().documents
                for c in answer["citations"]:
                    assert documents[c["doc_id"]].text[c["start"] : c["end"]] == c["quote"]
            extra = tmp_path / "castors.md"
            extra.write_text("# Castors\n\nLes castors du Canada construisent des barrages de 850 mètres.", "utf-8")
            indexer.index([extra])
            for p in replicas:  # no restart: each question reads Milvus as it is now
                hits = requests.post(
                    f"http://127.0.0.1:{p}/api/search", json={"query": "barrages des castors", "k": 1}, timeout=300
                ).json()
                assert hits[0]["chunk"]["doc_id"] == "castors.md", hits
        for r in ("r0", "r1"):
            held = {q.name for q in (tmp_path / r).iterdir()} if (tmp_path / r).exists() else set()
            assert held <= {"models"}, f"a replica kept {held} locally"


def test_indexes_sharing_a_milvus_keep_apart(tmp_path, embedder, sources_copy):
    uri = str(tmp_path / "shared.db")
    games = RAG(tmp_path / "a", config=Config(milvus_uri=uri, milvus_collection="rag_games"), embedder=embedder)
    games.index([sources_copy])
    articles = RAG(tmp_path / "b", config=Config(milvus_uri=uri, milvus_collection="rag"), embedder=embedder)
    extra = tmp_path / "castors.md"
    extra.write_text("Les castors du Canada construisent des barrages.", encoding="utf-8")
    for _ in range(3):  # each rebuild drops the generations before the previous one: only its own
        articles.index([extra], rebuild=True)
    assert [d.doc_id for d in articles.documents()] == ["castors.md"]
    assert {d.doc_id for d in games.documents()} == {p.name for p in sources_copy.glob("*.md")}
    assert games.search("Noam Shazeer", k=1)[0].chunk.doc_id != "castors.md"
