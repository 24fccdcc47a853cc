"""Milvus as the system of record (`--store milvus`): passages, their vectors and BM25 terms, the
documents, their metadata and content hashes all live in Milvus, so a serving process holds no copy
of the corpus and any number of app replicas can serve one Milvus server or cluster. A local file
URI ("index/milvus.db") runs Milvus Lite in-process; an http(s) URI talks to a server (with a token).

    <name>          an alias naming the live generation's passages collection
    <gen>_p         passages: pk, doc_key, doc_id, hash, chunk_id, start, end, text, vector, terms
                    (our own French/English stems, fed to Milvus' BM25 function)
    <gen>_d         per document: a head row ("h:", its live hash and metadata), its text in parts
                    ("t:", under the hash), a journal row while an update touches it ("j:"); and a
                    stamp ("s:") that changes with every update

Changing a document writes its passages and text under the new hash, then upserts its head (the
commit point), then deletes the rows of other hashes. Searches keep a passage only when its hash is
its document's live hash, so a reader never sees half a document, and every row key derives from
(document, hash, position), so re-running a killed update rewrites the same rows and completes it
(the journal row names what the killed run was touching). A rebuild fills a new generation and
switches the alias: readers see the old generation or the new one, whole. The generation records the
embedding model, dimension, prompts and chunker; a mismatch is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, RagError
from ..records import Chunk, Document, IndexedDocument, Lang
from ..text.terms import query_stems
from .manifest import FORMAT_VERSION, REBUILD_HINT, Manifest

INSERT_BATCH = 1000
PART_CHARS = 16_000  # a document's text is stored in parts of this many characters (<= 64 KB in UTF-8)
MAX_FIELD_BYTES = 65_535  # Milvus' VARCHAR limit
_SLACK = 32  # extra hits asked for, in place of the ones an update in progress makes stale
_MAX_LIMIT = 16_384  # Milvus' largest top-k
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,180}$")
_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
_loaded: set[tuple[str, str]] = set()
_texts: OrderedDict[tuple[str, str, str], str] = OrderedDict()  # (collection, doc_id, hash) -> text
_settings_seen: dict[tuple[str, str], dict[str, Any]] = {}
_TEXTS_KEPT = 256


def client_for(uri: str, token: str = "") -> Any:
    """One client per (uri, token) in this process (Milvus Lite opens its file once)."""
    from pymilvus import MilvusClient

    key = (uri, token)
    with _clients_lock:
        if key not in _clients:
            # subtle: Milvus Lite logs a full traceback when it cannot open its file; the message
            # below says what happened and what to do, so the library's log is silenced meanwhile.
            logging.disable(logging.ERROR)
            try:
                _clients[key] = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
            except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; one clear message
                hint = (
                    "; Milvus Lite opens its file from one process at a time: stop the other process using "
                    "it (the app or an indexer), or use a Milvus server (--milvus-uri http://host:19530)"
                    if not is_server(uri)
                    else "; check that the server runs and the token ($RAG_MILVUS_TOKEN)"
                )
                raise RagError(f"cannot open Milvus at {uri} ({type(exc).__name__}: {exc}){hint}") from None
            finally:
                logging.disable(logging.NOTSET)
        return _clients[key]


def close(uri: str, token: str = "") -> None:
    """Close this process's client for `uri` (for Milvus Lite: let another process open the file)."""
    with _clients_lock:
        client = _clients.pop((uri, token), None)
        _loaded.difference_update({k for k in _loaded if k[0] == uri})
    if client is not None:
        client.close()
    if uri.endswith(".db"):  # Milvus Lite serves the file from a thread of this process until released
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://"))


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RagError(
            f"{name!r} is not a usable Milvus collection name: letters, digits and underscores, "
            "not starting with a digit (--milvus-collection / $RAG_MILVUS_COLLECTION)"
        )
    return name


def doc_key(doc_id: str) -> int:
    """A document's 63-bit key: the passages and parts of a document are selected by it."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest(), "big") >> 1


def _passage_key(doc_id: str, h: str, i: int) -> int:
    raw = hashlib.blake2b(f"{doc_id}\0{h}\0{i}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big") >> 1


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:40]


def _head_pk(doc_id: str) -> str:
    return "h:" + _digest(doc_id)


def _journal_pk(doc_id: str) -> str:
    return "j:" + _digest(doc_id)


def _part_pk(doc_id: str, h: str, i: int) -> str:
    return f"t:{_digest(doc_id, h)}:{i}"


_STAMP_PK = "s:"
_HEAD, _JOURNAL, _STAMP, _DF = -1, -2, -3, -4  # the `part` of non-text rows


_DOCUMENTS = "\x00documents"  # the count of documents, kept beside the terms' (no stem has a NUL)


def _df_pk(term: str) -> str:
    """The row counting the passages that hold `term` ("": the passages in all)."""
    return "f:" + _digest("df", term)


@dataclass(frozen=True)
class Head:
    """What the index holds of one document, without its text."""

    doc_id: str
    hash: str
    title: str
    source: str
    lang: Lang
    url: str
    date: str
    publisher: str
    chunks: int
    parts: int
    indexed: str

    @classmethod
    def of(cls, doc: Document, h: str, chunks: int, indexed: str) -> Head:
        parts = max(1, -(-len(doc.text) // PART_CHARS))
        return cls(
            doc.doc_id, h, doc.title, doc.source, doc.lang, doc.url, doc.date, doc.publisher, chunks, parts, indexed
        )

    def body(self) -> str:
        fields = {k: v for k, v in self.__dict__.items() if k not in ("doc_id", "hash")}
        return json.dumps(fields, ensure_ascii=False)

    @classmethod
    def read(cls, row: Mapping[str, Any]) -> Head:
        return cls(doc_id=row["doc_id"], hash=row["hash"], **json.loads(row["body"]))

    def document(self, text: str) -> Document:
        return Document(self.doc_id, self.title, text, self.source, self.lang, self.url, self.date, self.publisher)

    def listed(self) -> IndexedDocument:
        return IndexedDocument(
            self.doc_id,
            self.title,
            self.source,
            self.lang,
            self.chunks,
            self.indexed,
            self.url,
            self.date,
            self.publisher,
        )


@dataclass(frozen=True)
class Written:
    """One document to write: its text and metadata, hash, passages with their vectors and terms."""

    doc: Document
    hash: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    terms: Sequence[Sequence[str]]
    indexed: str


class MilvusIndex:
    """The live generation of an index held in Milvus, as searches and answers read it: the same
    reading interface as `storage.index.Index` (dense, keyword, passages, similarities, documents,
    lexical, manifest, version), fetching what a question needs instead of holding the corpus. Open
    one per question (`open`): it pins the generation and the update stamp it saw."""

    kind = "milvus"

    def __init__(self, client: Any, uri: str, name: str, passages: str, settings: dict[str, Any], stamp: str) -> None:
        self._client = client
        self.uri = uri
        self.name = name
        self.passages_collection = passages
        self.documents_collection = settings["documents"]
        self.settings = settings
        self.version = f"{passages}/{stamp}"
        self._heads: dict[str, Head | None] = {}
        self._hash_of: dict[int, tuple[str, str]] = {}  # passage key -> (doc_id, hash), as a search saw it
        self._size: int | None = None
        self._unpublished_counts: Counter[str] = Counter()
        self.documents = _Documents(self)
        self.lexical = _Lexical(self)

    # --- opening, creating, publishing ------------------------------------------------------

    @classmethod
    def exists(cls, uri: str, token: str, name: str) -> bool:
        return _alias_target(client_for(uri, token), check_name(name)) is not None

    @classmethod
    def open(cls, uri: str, token: str, name: str) -> MilvusIndex:
        """The live generation behind alias `name`.

        Raises:
            IndexNotFoundError: no index of that name at `uri`.
            IndexCorruptError: the alias points at a collection that is not one of ours.
        """
        client = client_for(uri, token)
        passages = _alias_target(client, check_name(name))
        if passages is None:
            raise IndexNotFoundError(
                f"no index {name!r} in Milvus at {uri}; build one with `rag index PATH... --store milvus"
                f"{'' if not is_server(uri) else f' --milvus-uri {uri}'}` (or move a local index there "
                "with `rag migrate`)"
            )
        index = cls(client, uri, name, passages, _settings(client, uri, passages), "")
        index._ensure_loaded()
        index.version = f"{passages}/{index._stamp()}"
        return index

    @classmethod
    def create(cls, uri: str, token: str, name: str, settings: dict[str, Any]) -> MilvusIndex:
        """A new, empty generation for `name`, not yet live (`publish` makes it so)."""
        from pymilvus import DataType, Function, FunctionType

        client = client_for(uri, token)
        gen = f"{check_name(name)}_g{time.time_ns()}"
        passages, documents = f"{gen}_p", f"{gen}_d"
        try:
            s = client.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("pk", DataType.INT64, is_primary=True)
            s.add_field("doc_key", DataType.INT64)
            s.add_field("doc_id", DataType.VARCHAR, max_length=MAX_FIELD_BYTES)
            s.add_field("hash", DataType.VARCHAR, max_length=64)
            s.add_field("chunk_id", DataType.VARCHAR, max_length=MAX_FIELD_BYTES)
            s.add_field("start", DataType.INT64)
            s.add_field("end", DataType.INT64)
            s.add_field("text", DataType.VARCHAR, max_length=MAX_FIELD_BYTES)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=int(settings["dim"]))
            s.add_field(
                "terms",
                DataType.VARCHAR,
                max_length=MAX_FIELD_BYTES,
                enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"},
            )
            s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            s.add_function(
                Function(
                    name="bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=["terms"],
                    output_field_names=["sparse"],
                )
            )
            ip = client.prepare_index_params()
            ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            ip.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            ip.add_index(field_name="doc_key", index_type="INVERTED")
            props = {
                "rag.settings": json.dumps(settings, sort_keys=True),
                "rag.documents": documents,
                "rag.embedding_model": str(settings["embedding_model"]),
                "rag.dim": str(settings["dim"]),
            }
            client.create_collection(passages, schema=s, index_params=ip, properties=props, consistency_level="Strong")
            d = client.create_schema(auto_id=False, enable_dynamic_field=False)
            d.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=128)
            d.add_field("doc_key", DataType.INT64)
            d.add_field("doc_id", DataType.VARCHAR, max_length=MAX_FIELD_BYTES)
            d.add_field("hash", DataType.VARCHAR, max_length=64)
            d.add_field("part", DataType.INT64)
            d.add_field("body", DataType.VARCHAR, max_length=MAX_FIELD_BYTES)
            d.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
            ip = client.prepare_index_params()
            ip.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
            ip.add_index(field_name="doc_key", index_type="INVERTED")
            client.create_collection(documents, schema=d, index_params=ip, consistency_level="Strong")
        except Exception as exc:  # noqa: BLE001 - leave nothing half-made behind
            _drop(client, passages)
            _drop(client, documents)
            raise RagError(f"could not create the Milvus collections for {name!r} at {uri} ({exc})") from None
        index = cls(client, uri, name, passages, {**settings, "documents": documents}, "")
        index._loaded_now()
        return index

    def publish(self) -> None:
        """Make this generation the live one (one alias switch), then drop every generation but
        this one and the one it replaces (readers that opened it a moment ago still finish)."""
        c = self._client
        self._count(self._unpublished_counts)
        self._unpublished_counts = Counter()
        self._flush()
        try:
            before = _alias_target(c, self.name)
            if before is None:
                c.create_alias(self.passages_collection, self.name)
            else:
                c.alter_alias(self.passages_collection, self.name)
        except Exception as exc:  # noqa: BLE001
            raise RagError(f"could not switch the Milvus alias {self.name!r} at {self.uri} ({exc})") from None
        keep = {self.passages_collection, before}
        ours = re.compile(rf"^{re.escape(self.name)}_g\d+_p$")  # not another index's ("rag_games_g…")
        for coll in c.list_collections():
            if ours.match(coll) and coll not in keep:
                docs = _settings_or_none(c, coll)
                _drop(c, coll)
                _drop(c, docs or coll[:-2] + "_d")
        self._touch()

    def drop(self) -> None:
        """Drop this generation's collections (one that was never published)."""
        _drop(self._client, self.passages_collection)
        _drop(self._client, self.documents_collection)

    @property
    def manifest(self) -> Manifest:
        s = self.settings
        return Manifest(
            format_version=int(s.get("format_version", FORMAT_VERSION)),
            embedding_model=s["embedding_model"],
            dim=int(s["dim"]),
            query_prompt=s["query_prompt"],
            passage_prompt=s["passage_prompt"],
            chunker=s["chunker"],
            store="milvus",
            documents={},
            chunks=0,  # not counted here: `size` does, when asked
        )

    @property
    def where(self) -> str:
        return f"Milvus index {self.name!r} at {self.uri}"

    # --- reading ---------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Passages stored (those of an update in progress included)."""
        if self._size is None:
            rows = self._call("query", self.passages_collection, filter="", output_fields=["count(*)"])
            self._size = int(rows[0]["count(*)"])
        return self._size

    def dense(self, query: np.ndarray, n: int) -> list[tuple[int, float]]:
        """The `n` passages nearest `query` (inner product), best first, as (key, score)."""
        data = [np.asarray(query, dtype=np.float32).tolist()]
        found = self._search(data, "vector", n, {"metric_type": "IP"})
        return self._live(found, n)

    def keyword(self, text: str, lang: Lang, n: int) -> list[tuple[int, float]]:
        """Milvus' BM25 over the stems: the `n` best passages sharing a term with `text`."""
        terms = query_stems(text, lang)
        if not terms:
            return []
        found = self._search([" ".join(terms)], "sparse", n, {"metric_type": "BM25"})
        # subtle: Milvus Lite reports BM25 as a negative distance (smaller is better); a server as a
        # positive score. Either way the order is best first; keep a positive score.
        return self._live(((key, abs(score)) for key, score in found), n)

    def passages(self, keys: Sequence[int]) -> dict[int, Chunk]:
        """The passages with these keys (live ones only)."""
        if not keys:
            return {}
        rows = self._call(
            "query",
            self.passages_collection,
            ids=list(keys),
            output_fields=["doc_id", "hash", "chunk_id", "start", "end", "text"],
        )
        heads = self.heads_of({r["doc_id"] for r in rows})
        out = {}
        for r in rows:
            head = heads.get(r["doc_id"])
            if head is not None and head.hash == r["hash"]:
                out[int(r["pk"])] = Chunk(
                    r["chunk_id"], r["doc_id"], head.title, r["text"], int(r["start"]), int(r["end"])
                )
        return out

    def passages_of(self, doc_id: str) -> list[Chunk]:
        """A document's live passages, in text order."""
        head = self.heads_of([doc_id]).get(doc_id)
        if head is None:
            return []
        rows = self._call(
            "query",
            self.passages_collection,
            filter=f'doc_key == {doc_key(doc_id)} and hash == "{head.hash}"',
            output_fields=["doc_id", "chunk_id", "start", "end", "text"],
        )
        chunks = [Chunk(r["chunk_id"], doc_id, head.title, r["text"], int(r["start"]), int(r["end"])) for r in rows]
        return sorted(chunks, key=lambda c: (c.start, c.end))

    def describe(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """The documents with these ids, their metadata only (`text` is ""): no text is fetched."""
        return {d: head.document("") for d, head in self.heads_of(doc_ids).items()}

    def similarities(self, keys: Sequence[int], query: np.ndarray) -> dict[int, float]:
        """Inner product of `query` with the passages' vectors."""
        if not keys:
            return {}
        rows = self._call("query", self.passages_collection, ids=list(keys), output_fields=["vector"])
        q = np.asarray(query, dtype=np.float32)
        return {int(r["pk"]): float(np.asarray(r["vector"], dtype=np.float32) @ q) for r in rows}

    def heads_of(self, doc_ids: Iterable[str]) -> dict[str, Head]:
        """The live heads of these documents (absent: not in the index), remembered for this view."""
        doc_ids = list(dict.fromkeys(doc_ids))
        wanted = [d for d in doc_ids if d not in self._heads]
        if wanted:
            rows = self._call(
                "query",
                self.documents_collection,
                ids=[_head_pk(d) for d in wanted],
                output_fields=["doc_id", "hash", "body"],
            )
            found = {r["doc_id"]: Head.read(r) for r in rows}
            for d in wanted:
                self._heads[d] = found.get(d)
        return {d: h for d in doc_ids if (h := self._heads.get(d)) is not None}

    def document(self, doc_id: str) -> Document | None:
        head = self.heads_of([doc_id]).get(doc_id)
        if head is None:
            return None
        key = (self.documents_collection, doc_id, head.hash)
        text = _texts.get(key)
        if text is None:
            rows = self._call(
                "query",
                self.documents_collection,
                ids=[_part_pk(doc_id, head.hash, i) for i in range(head.parts)],
                output_fields=["part", "body"],
            )
            if len(rows) != head.parts:
                raise IndexCorruptError(
                    f"{self.where}: the text of {doc_id!r} has {len(rows)} of its {head.parts} parts; {REBUILD_HINT}"
                )
            text = "".join(r["body"] for r in sorted(rows, key=lambda r: int(r["part"])))
            with _clients_lock:
                _texts[key] = text
                while len(_texts) > _TEXTS_KEPT:
                    _texts.popitem(last=False)
        return head.document(text)

    def heads(self) -> dict[str, Head]:
        """Every document's head, by doc_id (in no particular order)."""
        out = {}
        for r in self._iterate(f"part == {_HEAD}", ["doc_id", "hash", "body"]):
            head = Head.read(r)
            out[head.doc_id] = head
        return out

    def document_count(self) -> int:
        return self.totals()[0]

    def indexed_documents(self) -> list[IndexedDocument]:
        """What the index holds, oldest indexed first, without the texts."""
        return [h.listed() for h in sorted(self.heads().values(), key=lambda h: (h.indexed, h.doc_id))]

    def document_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """({term: passages holding it}, passages): BM25's statistics as the index keeps them
        (one lookup; a term no passage holds is absent)."""
        keys = [_df_pk(t) for t in dict.fromkeys(terms)]
        rows = self._call("query", self.documents_collection, ids=[_df_pk(""), *keys], output_fields=["doc_id", "body"])
        counts = {r["doc_id"]: int(r["body"]) for r in rows}
        n = counts.pop("", None)
        return counts, self.size if n is None else n

    # --- writing (one writer at a time) ----------------------------------------------------

    def write(self, items: Sequence[Written], *, fresh: bool = False) -> int:
        """Add or replace these documents; returns the rows written. `fresh`: a generation not yet
        published, which nobody reads: no journal, nothing to delete."""
        if not items:
            return 0
        rows = 0
        before = {} if fresh else self.heads_of(w.doc.doc_id for w in items)
        if not fresh:
            self._journal([w.doc.doc_id for w in items], [w.hash for w in items])
        for w in items:
            rows += self._write_body(w)
        self._flush()
        heads = [Head.of(w.doc, w.hash, len(w.chunks), w.indexed) for w in items]
        delta = _term_counts(t for w in items for t in w.terms)
        delta[_DOCUMENTS] += sum(1 for w in items if w.doc.doc_id not in before)
        self._upsert(
            self.documents_collection, [self._row(h.doc_id, h.hash, _HEAD, _head_pk(h.doc_id), h.body()) for h in heads]
        )
        rows += len(heads)
        if not fresh:
            self._flush()  # the heads are the commit point: stored before the old rows go
            for w in items:
                old = before.get(w.doc.doc_id)
                if old is not None and old.hash != w.hash:
                    delta.subtract(self._drop_version(old))
        if fresh:
            self._unpublished_counts.update(delta)  # written once, by `publish`
        else:
            self._count(delta)
            self._end_journal([w.doc.doc_id for w in items])
            self._touch()
        return rows

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Remove these documents: their heads first (they vanish from searches), then their rows."""
        if not doc_ids:
            return
        heads = self.heads_of(doc_ids)
        self._journal(doc_ids, ["" for _ in doc_ids])
        self._call("delete", self.documents_collection, ids=[_head_pk(d) for d in doc_ids])
        self._flush()
        delta: Counter[str] = Counter({_DOCUMENTS: -len(heads)})
        for head in heads.values():
            delta.subtract(self._drop_version(head))
        self._count(delta)
        self._end_journal(doc_ids)
        self._touch()

    def recover(self) -> list[str]:
        """Finish what a killed update left: delete the rows of the documents it was touching whose
        hash is not their live one. Returns those documents' ids."""
        pending = [r["doc_id"] for r in self._iterate(f"part == {_JOURNAL}", ["doc_id"])]
        if pending:
            heads = self.heads_of(pending)
            for d in pending:  # subtle: their passages' term counts may be off by this document (see _count)
                head = heads.get(d)
                self._forget(d, keep=head.hash if head else None)
            self._end_journal(pending)
            self._touch()
        return pending

    def _write_body(self, w: Written) -> int:
        doc, h = w.doc, w.hash
        if not (len(w.chunks) == len(w.vectors) == len(w.terms)):
            raise RagError(f"internal error: {doc.doc_id!r} has {len(w.chunks)} chunks, {len(w.vectors)} vectors")
        key = doc_key(doc.doc_id)
        passages = []
        for i, (c, v, t) in enumerate(zip(w.chunks, w.vectors, w.terms, strict=True)):
            _fits(c.text, f"passage {c.chunk_id!r}", "index with a smaller --chunk-chars")
            passages.append(
                {
                    "pk": _passage_key(doc.doc_id, h, i),
                    "doc_key": key,
                    "doc_id": doc.doc_id,
                    "hash": h,
                    "chunk_id": c.chunk_id,
                    "start": c.start,
                    "end": c.end,
                    "text": c.text,
                    "vector": np.asarray(v, dtype=np.float32).tolist(),
                    "terms": _terms_text(t),
                }
            )
        self._upsert(self.passages_collection, passages)
        head = Head.of(doc, h, len(w.chunks), w.indexed)
        _fits(head.body(), f"the metadata of {doc.doc_id!r}", "shorten its title or url")
        parts = [
            self._row(doc.doc_id, h, i, _part_pk(doc.doc_id, h, i), doc.text[i * PART_CHARS : (i + 1) * PART_CHARS])
            for i in range(head.parts)
        ]
        self._upsert(self.documents_collection, parts)
        return len(passages) + len(parts)

    def _drop_version(self, head: Head) -> Counter[str]:
        """Delete the passages and text parts of one version of a document, by their keys (no
        scan); returns the term counts of the passages deleted."""
        keys = [_passage_key(head.doc_id, head.hash, i) for i in range(head.chunks)]
        gone = self._call("query", self.passages_collection, ids=keys, output_fields=["terms"]) if keys else []
        if keys:
            self._call("delete", self.passages_collection, ids=keys)
        parts = [_part_pk(head.doc_id, head.hash, i) for i in range(head.parts)]
        self._call("delete", self.documents_collection, ids=parts)
        return _term_counts(_stored_terms(r["terms"]) for r in gone)

    def _forget(self, doc_id: str, *, keep: str | None) -> Counter[str]:
        """Delete a document's passages and text parts, but those under hash `keep`, whatever their
        version (a scan: for what a killed update left); returns the term counts of the passages
        deleted."""
        key = doc_key(doc_id)
        other = f' and hash != "{keep}"' if keep else ""
        gone = self._call("query", self.passages_collection, filter=f"doc_key == {key}{other}", output_fields=["terms"])
        self._call("delete", self.passages_collection, filter=f"doc_key == {key}{other}")
        self._call("delete", self.documents_collection, filter=f"doc_key == {key} and part >= 0{other}")
        return _term_counts(_stored_terms(r["terms"]) for r in gone)

    def _count(self, delta: Counter[str]) -> None:
        """Add `delta` to the stored document frequencies ("": the number of passages).

        subtle: applied after the rows they count are written or deleted, not atomically with them:
        an update killed in between leaves the counts of its documents' terms off by their
        passages until the next rebuild. They only weigh the question's words against each other
        (`answer.evidence`), where that is noise; searches use Milvus' own BM25 statistics."""
        delta = Counter({t: n for t, n in delta.items() if n})
        if not delta:
            return
        now, _ = self.document_frequencies([t for t in delta if t])
        now.update(self._stored_counts())
        rows = []
        for t, d in delta.items():
            value = now.get(t, 0) + d
            rows.append(self._row(t, "", _DF, _df_pk(t), str(max(0, value))))
        self._upsert(self.documents_collection, rows)

    def totals(self) -> tuple[int, int]:
        """(documents, passages) as the index counts them (no scan)."""
        counts = self._stored_counts()
        return counts[_DOCUMENTS], counts[""]

    def _stored_counts(self) -> dict[str, int]:
        rows = self._call(
            "query", self.documents_collection, ids=[_df_pk(""), _df_pk(_DOCUMENTS)], output_fields=["doc_id", "body"]
        )
        counts = {r["doc_id"]: int(r["body"]) for r in rows}
        return {"": counts.get("", 0), _DOCUMENTS: counts.get(_DOCUMENTS, 0)}

    def _journal(self, doc_ids: Sequence[str], hashes: Sequence[str]) -> None:
        rows = [self._row(d, h, _JOURNAL, _journal_pk(d), "") for d, h in zip(doc_ids, hashes, strict=True)]
        self._upsert(self.documents_collection, rows)
        self._flush()

    def _end_journal(self, doc_ids: Sequence[str]) -> None:
        self._call("delete", self.documents_collection, ids=[_journal_pk(d) for d in doc_ids])
        self._flush()

    def _touch(self) -> None:
        stamp = f"{time.time_ns()}"
        self._upsert(self.documents_collection, [self._row("", "", _STAMP, _STAMP_PK, stamp)])
        self._flush()
        self.version = f"{self.passages_collection}/{stamp}"
        self._heads.clear()
        self._size = None

    def _stamp(self) -> str:
        rows = self._call("query", self.documents_collection, ids=[_STAMP_PK], output_fields=["body"])
        return rows[0]["body"] if rows else ""

    @staticmethod
    def _row(doc_id: str, h: str, part: int, pk: str, body: str) -> dict[str, Any]:
        return {
            "pk": pk,
            "doc_key": doc_key(doc_id),
            "doc_id": doc_id,
            "hash": h,
            "part": part,
            "body": body,
            "unused": [0.0, 0.0],
        }

    # --- plumbing --------------------------------------------------------------------------

    def _live(self, found: Iterable[tuple[int, float]], n: int) -> list[tuple[int, float]]:
        """The first `n` hits whose passage belongs to its document's live version."""
        found = list(found)
        heads = self.heads_of({self._hash_of[k][0] for k, _ in found})
        out = []
        for key, score in found:
            doc_id, h = self._hash_of[key]
            head = heads.get(doc_id)
            if head is not None and head.hash == h:
                out.append((key, score))
        return out[:n]

    def _search(self, data: list[Any], field: str, n: int, params: dict[str, Any]) -> list[tuple[int, float]]:
        if n <= 0:
            return []
        limit = min(_MAX_LIMIT, n + max(_SLACK, n // 4))
        result = self._call(
            "search",
            self.passages_collection,
            data=data,
            anns_field=field,
            limit=limit,
            search_params=params,
            output_fields=["doc_id", "hash"],
        )
        out = []
        for hit in result[0]:
            key = int(hit["pk"] if "pk" in hit else hit["id"])
            entity = hit.get("entity", hit)
            self._hash_of[key] = (entity["doc_id"], entity["hash"])
            out.append((key, float(hit["distance"])))
        return out

    def _iterate(self, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """The rows of the documents collection matching `expr`, a slice of document keys at a
        time (a query returns at most a few MB; pymilvus' iterator needs what Milvus Lite lacks)."""
        rows = self._call("query", self.documents_collection, filter=expr, output_fields=["count(*)"])
        count = int(rows[0]["count(*)"])
        if count <= 2000:
            if count:
                yield from self._call("query", self.documents_collection, filter=expr, output_fields=fields)
            return
        step = -(-(1 << 63) // -(-count // 2000))
        for lo in range(0, 1 << 63, step):
            part = f"({expr}) and doc_key >= {lo} and doc_key <= {min(lo + step, 1 << 63) - 1}"
            yield from self._call("query", self.documents_collection, filter=part, output_fields=fields)

    def _upsert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        for s in range(0, len(rows), INSERT_BATCH):
            self._call("upsert", collection, rows[s : s + INSERT_BATCH])

    def _flush(self) -> None:
        self._call("flush", self.passages_collection)
        self._call("flush", self.documents_collection)

    def _ensure_loaded(self) -> None:
        for coll in (self.passages_collection, self.documents_collection):
            if (self.uri, coll) not in _loaded:
                if not self._client.has_collection(coll):
                    raise IndexCorruptError(f"{self.where}: the collection {coll} is missing; {REBUILD_HINT}")
                self._call("load_collection", coll)  # one made by another process starts released
                _loaded.add((self.uri, coll))

    def _loaded_now(self) -> None:
        _loaded.update({(self.uri, self.passages_collection), (self.uri, self.documents_collection)})

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except RagError:
            raise
        except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; one clear message
            for coll in (self.passages_collection, self.documents_collection):
                try:
                    gone = not self._client.has_collection(coll)
                except Exception:  # noqa: BLE001 - the server is away: the first message says it
                    break
                if gone:
                    raise IndexCorruptError(f"{self.where}: the collection {coll} is missing; {REBUILD_HINT}") from None
            raise RagError(f"Milvus {method} on {args[0] if args else ''} at {self.uri} failed ({exc})") from None


class _Documents(Mapping[str, Document]):
    """`index.documents` for a Milvus index: a document's text is fetched when asked for."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._index.document(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def get(self, doc_id: str, default: Any = None) -> Any:
        return self._index.document(doc_id) or default

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and bool(self._index.heads_of([doc_id]))

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.heads())

    def __len__(self) -> int:
        return len(self._index.heads())


class _Lexical:
    """`index.lexical` for a Milvus index: BM25's inverse document frequency from the document
    frequencies the index stores (one lookup per question)."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index
        self._n: int | None = None

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        counts, self._n = self._index.document_frequencies(terms)
        return {t: self.idf_of_df(counts.get(t, 0)) for t in terms}

    def idf_of_df(self, df: int) -> float:
        if self._n is None:
            self._n = self._index.document_frequencies([])[1]
        n = max(1, self._n)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


def _term_counts(passages: Iterable[Iterable[str]]) -> Counter[str]:
    """For each term, how many of `passages` (each given by its terms) hold it; "" counts them all."""
    counts: Counter[str] = Counter()
    for terms in passages:
        counts.update(set(terms))
        counts[""] += 1
    return counts


def _stored_terms(text: str) -> list[str]:
    """The terms `_terms_text` stored ("_" stands for none: Milvus' BM25 wants some text)."""
    return [] if text == "_" else text.split()


def _terms_text(terms: Sequence[str]) -> str:
    text = " ".join(terms) or "_"
    if len(text.encode("utf-8")) > MAX_FIELD_BYTES:
        text = text.encode("utf-8")[: MAX_FIELD_BYTES - 4].decode("utf-8", "ignore").rsplit(" ", 1)[0]
    return text


def _fits(text: str, what: str, fix: str) -> None:
    if len(text.encode("utf-8")) > MAX_FIELD_BYTES:
        raise RagError(f"{what} is longer than Milvus stores in one field ({MAX_FIELD_BYTES} bytes): {fix}")


def _alias_target(client: Any, name: str) -> str | None:
    try:
        if name not in (client.list_aliases() or {}).get("aliases", []):
            return None
        return str(client.describe_alias(name)["collection_name"])
    except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; one clear message
        raise RagError(f"cannot read the Milvus alias {name!r} ({type(exc).__name__}: {exc})") from None


def _settings(client: Any, uri: str, passages: str) -> dict[str, Any]:
    """The settings a generation records (read once per process: a generation's never change)."""
    key = (uri, passages)
    if key not in _settings_seen:
        _settings_seen[key] = _read_settings(client, uri, passages)
    return dict(_settings_seen[key])


def _read_settings(client: Any, uri: str, passages: str) -> dict[str, Any]:
    try:
        props = client.describe_collection(passages).get("properties") or {}
        settings = json.loads(props["rag.settings"])
        settings["documents"] = props["rag.documents"]
    except (KeyError, ValueError, TypeError):
        raise IndexCorruptError(
            f"the Milvus collection {passages} at {uri} holds no index settings: not made by this program; "
            "choose another --milvus-collection"
        ) from None
    except Exception as exc:  # noqa: BLE001
        raise RagError(f"cannot read the Milvus collection {passages} at {uri} ({exc})") from None
    if int(settings.get("format_version", 0)) > FORMAT_VERSION:
        raise IndexMismatchError(
            f"the Milvus index at {uri} has format version {settings['format_version']}, newer than this program "
            f"reads ({FORMAT_VERSION}): upgrade the program, or {REBUILD_HINT}"
        )
    return dict(settings)


def _settings_or_none(client: Any, passages: str) -> str | None:
    try:
        return str((client.describe_collection(passages).get("properties") or {})["rag.documents"])
    except Exception:  # noqa: BLE001
        return None


def _drop(client: Any, name: str) -> None:
    try:
        if name and client.has_collection(name):
            client.drop_collection(name)
    except Exception:  # noqa: BLE001, S110 - best effort: a leftover collection is only wasted space
        pass
