"""Building and updating an index: new or changed documents are chunked and embedded, others are
kept (removed only when asked, or by a sync), and nothing is written until the new version is complete.

Embeddings are staged on disk batch by batch (keyed by document content hash and settings), so a
run killed half-way resumes without embedding again what it had done.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..config import Config
from ..errors import IndexCorruptError, IndexMismatchError, RagError, UnknownDocumentError
from ..models.embed import Embedder
from ..records import Chunk, Document, IndexStats, Lang, Skipped
from ..storage import index as index_io
from ..storage.faiss_store import IndexType, StoreKind, VectorStore
from ..storage.lexical import LexicalIndex, passage_terms
from ..storage.manifest import FORMAT_VERSION, Manifest, document_hash
from ..storage.milvus import MilvusIndex, Written
from ..text.chunking import chunk_document, retrieval_text, title_prefix

STAGE_BATCH = 256  # chunks embedded and staged at a time


@dataclass(frozen=True)
class Progress:
    """Reported after each document read and each batch embedded. `total` is how many documents
    the run will read (files, and lines of .jsonl corpora), when known."""

    documents: int
    chunks: int
    embedded: int
    skipped: int
    total: int | None = None


ProgressCallback = Callable[[Progress], None]


def update_index(
    root: Path,
    sources: Iterable[Document | Skipped],
    embedder: Callable[[], Embedder],
    config: Config,
    *,
    sync: bool = False,
    remove: Collection[str] = (),
    rebuild: bool = False,
    store_kind: StoreKind | None = None,
    on_progress: ProgressCallback | None = None,
    total: int | None = None,
) -> IndexStats:
    """Add the documents `sources` yields to the index in `root`, replacing changed ones.

    Args:
        root: index folder.
        sources: documents to index (and `Skipped` records for what could not be read), e.g.
            `ingest.sources.iter_sources(paths)`.
        embedder: returns the loaded embedding model (the one `config` names); only called when
            something needs embedding, so removing documents loads no model.
        config: settings (chunker, prompts, model).
        sync: make the index hold exactly `sources`' documents: every other one is removed
            (one that could not be read this time keeps its indexed version).
        remove: doc ids to remove; an id the index does not hold is an error and nothing changes.
        rebuild: ignore the existing index and embed `sources` again (the index then holds them only).
        store_kind: FAISS index type for the new version; None keeps the existing index's kind
            ("flat" for a new index). An index held in Milvus is updated by `update_milvus`.
        on_progress: called as documents are read and batches embedded.
        total: how many documents `sources` will yield, for `on_progress` (None: unknown).

    Raises:
        IndexMismatchError: the existing index has other settings and `rebuild` is False.
        UnknownDocumentError: `remove` names a document the index does not hold.
        RagError: the new version could not be written (the previous one stays live).
    """
    started = time.perf_counter()
    root = Path(root)
    with index_io.write_lock(root):
        old = None if rebuild else _load_previous(root, config)
        old_hashes = old.manifest.documents if old else {}
        old_counts = Counter(c.doc_id for c in old.chunks) if old else Counter()
        _check_known(remove, old_hashes, f"the index in {root}")
        stage = _Stage(root, config)
        run = _read(sources, old_hashes, old_counts, stage, embedder, config, on_progress, total)
        keep = _kept(old.documents if old else (), remove, sync, run)  # in index order (the manifest's is sorted)
        docs = {d: old.documents[d] for d in keep} if old else {}
        hashes = {**{d: old_hashes[d] for d in keep}, **run.hashes}
        docs.update(run.seen)
        removed = tuple(sorted(set(old_hashes) - set(docs)))
        changed = run.counts["added"] + run.counts["changed"] + len(removed)
        version = old.version if old else ""
        written = 0
        kind: StoreKind = store_kind or (old.manifest.store if old else "flat")  # type: ignore[assignment]
        if changed or old is None or rebuild or kind != old.manifest.store:
            dim = old.manifest.dim if old else run.model().dim
            version, written = _commit(root, old, docs, hashes, stage, dim, config, kind)
        stage.clear()
    return run.stats(docs, old_counts, removed, started, version, written)


def update_milvus(
    scratch: Path,
    uri: str,
    sources: Iterable[Document | Skipped],
    embedder: Callable[[], Embedder],
    config: Config,
    *,
    sync: bool = False,
    remove: Collection[str] = (),
    rebuild: bool = False,
    on_progress: ProgressCallback | None = None,
    total: int | None = None,
) -> IndexStats:
    """`update_index` for an index held in Milvus at `uri` (`config.milvus_collection`,
    `config.milvus_token`): only the rows of added, changed and removed documents are written or
    deleted. A new index (or `rebuild`) is written into a new generation that goes live whole; a
    local index in `scratch` with no Milvus index yet is carried over (no re-embedding). `scratch`
    holds the embedding stage and the writer's lock.

    Raises: as `update_index`.
    """
    started = time.perf_counter()
    scratch = Path(scratch)
    token, name = config.milvus_token, config.milvus_collection
    with index_io.write_lock(scratch):
        live = None
        if not rebuild and MilvusIndex.exists(uri, token, name):
            live = MilvusIndex.open(uri, token, name)
            live.manifest.check(config, live.where)
            live.recover()  # what an update killed half-way left behind
        local = None
        if live is None and not rebuild and index_io.exists(scratch):
            local = _load_previous(scratch, config)
        old_hashes: Mapping[str, str]
        old_counts: Mapping[str, int]
        order: list[str] | None = None  # every indexed document, when the update needs them all
        if local:
            old_hashes = dict(local.manifest.documents)
            old_counts = Counter(c.doc_id for c in local.chunks)
            order = list(local.documents)
        elif live and not sync:  # only the documents read or removed are looked up, never the whole list
            old_hashes, old_counts = _LiveHeads(live, "hash"), _LiveHeads(live, "chunks")
        else:
            heads = live.heads() if live else {}
            old_hashes = {d: h.hash for d, h in heads.items()}
            old_counts = Counter({d: h.chunks for d, h in heads.items()})
            order = list(heads)
        _check_known(remove, old_hashes, live.where if live else f"Milvus at {uri}")
        stage = _Stage(scratch, config)
        run = _read(sources, old_hashes, old_counts, stage, embedder, config, on_progress, total)
        if order is None:
            keep, removed = [], tuple(sorted(set(remove)))
        else:
            keep = _kept(order, remove, sync, run)
            removed = tuple(sorted(set(old_hashes) - set(keep) - set(run.seen)))
        changed = [d for d in run.seen if old_hashes.get(d) != run.hashes[d]]
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")

        def staged(doc_id: str) -> Written:
            doc, h = run.seen[doc_id], run.hashes[doc_id]
            chunks, vectors = stage.get(h)
            return Written(doc, h, chunks, vectors, _stems(chunks, doc.lang, config), now)

        written = 0
        if live is None:
            dim = local.manifest.dim if local else run.model().dim
            target = MilvusIndex.create(uri, token, name, milvus_settings(config, dim))
            try:
                carried = [d for d in keep if d not in changed] if local else []
                for batch in _batches(_carried(local, carried, config) if local else iter(())):
                    written += target.write(batch, fresh=True)
                for batch in _batches(staged(d) for d in changed):
                    written += target.write(batch, fresh=True)
                target.publish()
            except BaseException:
                target.drop()
                raise
            version = target.version
            after: dict[str, None] = dict.fromkeys([*keep, *run.seen])
            totals = None
        else:
            for batch in _batches(staged(d) for d in changed):
                written += live.write(batch)
            live.remove(list(removed))
            version = live.version
            after, totals = {}, live.totals()
        stage.clear()
    return run.stats(after, old_counts, removed, started, version, written, totals=totals)


def milvus_settings(config: Config, dim: int) -> dict[str, object]:
    """What a Milvus index records of the settings it was built with (checked on every open)."""
    return {
        "format_version": FORMAT_VERSION,
        "embedding_model": config.embedding_model,
        "dim": dim,
        "query_prompt": config.query_prompt,
        "passage_prompt": config.passage_prompt,
        "chunker": config.chunker_settings(),
    }


def _carried(local: index_io.Index, doc_ids: list[str], config: Config) -> Iterator[Written]:
    """The documents of a local index as they are, vectors and terms included (for moving it)."""
    rows = local.rows_by_document()
    terms = local.passage_terms()
    m = local.manifest
    for d in doc_ids:
        doc, r = local.documents[d], rows.get(d, [])
        chunks = [local.chunks[i] for i in r]
        doc_terms = [terms[i] for i in r] if terms is not None else _stems(chunks, doc.lang, config)
        vectors = np.asarray(local.vectors[r], dtype=np.float32) if r else np.zeros((0, m.dim), np.float32)
        yield Written(doc, m.documents[d], chunks, vectors, doc_terms, m.indexed.get(d, m.created))


def _stems(chunks: Iterable[Chunk], lang: Lang, config: Config) -> list[list[str]]:
    """The BM25 terms of a document's passages (title included as the chunker settings say)."""
    return [passage_terms(retrieval_text(c.title, c.text, config.title_in_chunks), lang) for c in chunks]


def _batches(items: Iterable[Written], rows: int = 2000) -> Iterator[list[Written]]:
    """Documents in groups of about `rows` passages (each group is written with a few calls)."""
    batch: list[Written] = []
    n = 0
    for w in items:
        batch.append(w)
        n += len(w.chunks)
        if n >= rows:
            yield batch
            batch, n = [], 0
    if batch:
        yield batch


def _check_known(remove: Collection[str], known: Mapping[str, str], where: str) -> None:
    unknown = [d for d in remove if d not in known]
    if unknown:
        raise UnknownDocumentError(
            f"{where} holds no document {', '.join(map(repr, unknown[:5]))}"
            f"{f' (and {len(unknown) - 5} more)' if len(unknown) > 5 else ''}; nothing was removed. "
            "`rag list` shows the indexed doc ids"
        )


def _kept(order: Iterable[str], remove: Collection[str], sync: bool, run: _Run) -> list[str]:
    """The indexed documents that stay: not removed, and under `sync` read again (or unreadable this
    time, which keep their indexed version)."""
    unreadable = {s.source for s in run.skipped}
    return [d for d in order if d not in remove and (not sync or d in run.seen or d in unreadable)]


class _LiveHeads(Mapping[str, Any]):
    """One field ("hash" or "chunks") of a Milvus index's document heads, looked up as documents
    are read: an update that does not sync never lists the whole index."""

    def __init__(self, index: MilvusIndex, field: str) -> None:
        self._index, self._field = index, field

    def __getitem__(self, doc_id: str) -> Any:
        head = self._index.heads_of([doc_id]).get(doc_id)
        if head is None:
            raise KeyError(doc_id)
        return getattr(head, self._field)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.heads())

    def __len__(self) -> int:
        return self._index.document_count()


class _Run:
    """Reading the sources: which documents are new or changed (chunked and embedded into the
    stage), which unchanged, which skipped and why."""

    def __init__(self, embedder: Callable[[], Embedder]) -> None:
        self._embedder = embedder
        self.loaded: list[Embedder] = []
        self.seen: dict[str, Document] = {}
        self.hashes: dict[str, str] = {}
        self.skipped: list[Skipped] = []
        self.counts = {"added": 0, "changed": 0, "unchanged": 0, "chunks": 0, "embedded": 0}
        self.fresh: dict[str, list[str]] = {"added": [], "changed": []}
        self.new_chunks: dict[str, int] = {}
        self.resumed = 0

    def model(self) -> Embedder:
        if not self.loaded:
            self.loaded.append(self._embedder())
        return self.loaded[0]

    def stats(
        self,
        docs: Mapping[str, object],
        old_counts: Mapping[str, int],
        removed: tuple[str, ...],
        started: float,
        version: str,
        written: int,
        *,
        totals: tuple[int, int] | None = None,
    ) -> IndexStats:
        """What the run did; the index's documents and passages are counted from `docs` (what it
        holds now), or given as `totals` (documents, passages) by an index that counts them."""
        if totals is None:
            totals = (len(docs), sum(self.new_chunks[d] if d in self.new_chunks else old_counts[d] for d in docs))
        documents, chunks = totals
        return IndexStats(
            documents=documents,
            chunks=chunks,
            added=self.counts["added"],
            changed=self.counts["changed"],
            removed=len(removed),
            unchanged=self.counts["unchanged"],
            embedded_chunks=self.counts["embedded"],
            skipped=tuple(self.skipped),
            seconds=time.perf_counter() - started,
            version=version,
            embedding_backend=self.loaded[0].backend if self.loaded else "",
            resumed_chunks=self.resumed,
            added_ids=tuple(self.fresh["added"]),
            changed_ids=tuple(self.fresh["changed"]),
            removed_ids=removed,
            written_rows=written,
        )


def _read(
    sources: Iterable[Document | Skipped],
    old_hashes: Mapping[str, str],
    old_counts: Mapping[str, int],
    stage: _Stage,
    embedder: Callable[[], Embedder],
    config: Config,
    on_progress: ProgressCallback | None,
    total: int | None,
) -> _Run:
    run = _Run(embedder)
    counts = run.counts
    pending: list[tuple[Document, str, list[Chunk]]] = []  # to embed
    max_tokens_cache: dict[str, int] = {}

    def report() -> None:
        if on_progress:
            done = len(run.seen) + len(run.skipped)
            on_progress(Progress(done, counts["chunks"], counts["embedded"], len(run.skipped), total))

    for item in sources:
        if isinstance(item, Skipped):
            run.skipped.append(item)
            report()
            continue
        doc = item
        if doc.doc_id in run.seen:
            run.skipped.append(Skipped(doc.doc_id, "duplicate doc_id: indexed twice in this run; the first is kept"))
            continue
        h = document_hash(doc)
        run.seen[doc.doc_id], run.hashes[doc.doc_id] = doc, h
        if old_hashes.get(doc.doc_id) == h:
            counts["unchanged"] += 1
            counts["chunks"] += old_counts[doc.doc_id]
            report()
            continue
        what = "changed" if doc.doc_id in old_hashes else "added"
        counts[what] += 1
        run.fresh[what].append(doc.doc_id)
        prefix = title_prefix(doc.title, config.title_in_chunks)
        if prefix not in max_tokens_cache:
            max_tokens_cache[prefix] = run.model().max_passage_tokens(prefix)
        chunks = chunk_document(
            doc,
            chunk_chars=config.chunk_chars,
            overlap_sentences=config.overlap_sentences,
            max_tokens=max_tokens_cache[prefix],
            count_tokens=run.model().count_tokens,
        )
        counts["chunks"] += len(chunks)
        run.new_chunks[doc.doc_id] = len(chunks)
        pending.append((doc, h, chunks))
        if sum(len(c) for _, _, c in pending) >= STAGE_BATCH:
            counts["embedded"] += stage.embed(pending, run.model(), config)
            pending = []
        report()
    if pending:
        counts["embedded"] += stage.embed(pending, run.model(), config)
    report()
    run.resumed = stage.resumed
    return run


def _load_previous(root: Path, config: Config) -> index_io.Index | None:
    if not index_io.exists(root):
        return None
    try:
        old = index_io.load(root)
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc} (the existing index cannot be updated in place)") from None
    old.manifest.check(config, root)
    return old


def _commit(
    root: Path,
    old: index_io.Index | None,
    docs: dict[str, Document],
    hashes: dict[str, str],
    stage: _Stage,
    dim: int,
    config: Config,
    store_kind: StoreKind,
) -> tuple[str, int]:
    """Write the new version; returns its name and how many passages it wrote."""
    old_rows = old.rows_by_document() if old else {}
    old_terms = old.passage_terms() if old else None  # unchanged passages are not stemmed again

    def stemmed(doc_id: str, doc_chunks: list[Chunk]) -> list[list[str]]:
        return _stems(doc_chunks, docs[doc_id].lang, config)

    chunks: list[Chunk] = []
    terms: list[list[str]] = []
    blocks: list[np.ndarray] = []
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    indexed: dict[str, str] = {}
    for doc_id in docs:
        h = hashes[doc_id]
        if old and old.manifest.documents.get(doc_id) == h:
            indexed[doc_id] = old.manifest.indexed.get(doc_id, old.manifest.created)
            rows = old_rows.get(doc_id, [])
            doc_chunks = [old.chunks[r] for r in rows]
            blocks.append(old.vectors[rows] if rows else np.zeros((0, dim), np.float32))
            terms.extend([old_terms[r] for r in rows] if old_terms is not None else stemmed(doc_id, doc_chunks))
        else:
            indexed[doc_id] = now
            doc_chunks, vectors = stage.get(h)
            blocks.append(vectors)
            terms.extend(stemmed(doc_id, doc_chunks))
        chunks.extend(doc_chunks)
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float32)
    if not vectors.shape[0] == len(chunks) == len(terms):
        raise RagError(
            f"internal error: {vectors.shape[0]} vectors and {len(terms)} term lists for {len(chunks)} chunks; "
            "index unchanged"
        )
    lexical = LexicalIndex.build(terms)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        embedding_model=config.embedding_model,
        dim=dim,
        query_prompt=config.query_prompt,
        passage_prompt=config.passage_prompt,
        chunker=config.chunker_settings(),
        store=store_kind,
        documents=hashes,
        chunks=len(chunks),
        indexed=indexed,
    )
    store = VectorStore.build(vectors, kind=cast(IndexType, store_kind))
    new = index_io.Index(manifest, docs, chunks, vectors, store, lexical, terms=terms)
    return index_io.save(root, new), len(chunks)


class _Stage:
    """Embedded chunks not yet committed, on disk under `index/.staging/<settings>/`.

    Each shard holds, for a few documents, their content hashes, chunk offsets and vectors.
    """

    def __init__(self, root: Path, config: Config) -> None:
        key = json.dumps([config.embedding_model, config.passage_prompt, config.chunker_settings()], sort_keys=True)
        self.folder = root / ".staging" / hashlib.sha256(key.encode()).hexdigest()[:16]
        self._mem: dict[str, tuple[list[Chunk], np.ndarray]] = {}
        self._done: dict[str, Path] = {}
        self._shard: tuple[Path, dict[str, int], np.ndarray, np.ndarray] | None = None
        self.resumed = 0  # chunks read back from an interrupted run's shards
        if self.folder.exists():
            for shard in sorted(self.folder.glob("shard-*.npz")):
                try:
                    with np.load(shard, allow_pickle=False) as z:
                        for h in z["hashes"].tolist():
                            self._done[str(h)] = shard
                except (OSError, ValueError, KeyError):
                    shard.unlink(missing_ok=True)  # a shard cut short by a crash: embed again

    def embed(self, pending: list[tuple[Document, str, list[Chunk]]], embedder: Embedder, config: Config) -> int:
        """Embed the pending documents not already staged; returns how many chunks were embedded
        (those read back from an earlier run's shards are counted in `resumed`)."""
        todo = [(d, h, c) for d, h, c in pending if h not in self._done and h not in self._mem]
        for _, h, chunks in pending:
            if h in self._done and h not in self._mem:
                self._mem[h] = (chunks, self._read(h, len(chunks), embedder.dim))
                self.resumed += len(chunks)
        texts = [retrieval_text(c.title, c.text, config.title_in_chunks) for _, _, cs in todo for c in cs]
        if not texts:
            return 0
        vectors = embedder.embed_passages(texts)
        at = 0
        for _, h, chunks in todo:
            self._mem[h] = (chunks, vectors[at : at + len(chunks)])
            at += len(chunks)
        self._write(todo, vectors)
        return len(texts)

    def get(self, h: str) -> tuple[list[Chunk], np.ndarray]:
        return self._mem[h]

    def clear(self) -> None:
        shutil.rmtree(self.folder.parent, ignore_errors=True)

    def _read(self, h: str, n: int, dim: int) -> np.ndarray:
        shard = self._done[h]
        if self._shard is None or self._shard[0] != shard:  # documents come back in shard order: keep one open
            with np.load(shard, allow_pickle=False) as z:
                where = {str(x): i for i, x in enumerate(z["hashes"].tolist())}
                self._shard = (shard, where, z["offsets"], z["vectors"])
        _, where, offsets, all_vectors = self._shard
        i = where[h]
        vectors = all_vectors[int(offsets[i]) : int(offsets[i + 1])]
        if vectors.shape != (n, dim):
            raise IndexMismatchError(f"staged vectors for a document do not match its chunks; delete {self.folder}")
        return vectors

    def _write(self, todo: list[tuple[Document, str, list[Chunk]]], vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        offsets = np.cumsum([0] + [len(c) for _, _, c in todo])
        name = self.folder / f"shard-{time.time_ns()}.npz"
        tmp = name.with_suffix(".tmp")
        try:
            with tmp.open("wb") as fh:
                np.savez(fh, hashes=np.array([h for _, h, _ in todo]), offsets=offsets, vectors=vectors)
            tmp.replace(name)
        except OSError:
            tmp.unlink(missing_ok=True)  # staging only saves time on resume: never fail a run for it
            return
        for _, h, _ in todo:
            self._done[h] = name
