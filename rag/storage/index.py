"""The on-disk index: immutable version folders and an atomic `CURRENT` pointer.

    index/CURRENT            name of the live version ("v-000003")
    index/v-000003/          manifest.json, documents.jsonl, chunks.jsonl, vectors.npy, vectors.faiss, bm25/

A new version is written into a temporary folder, flushed to disk, renamed, and only then is
`CURRENT` replaced (os.replace is atomic), so a crash or a full disk at any point leaves the previous
version loadable and readers always see one whole version. Owns files, not model calls.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import IndexCorruptError, IndexNotFoundError, RagError
from ..records import Chunk, Document, IndexedDocument, Lang
from .faiss_store import VectorStore
from .lexical import TERMS_FILES, LexicalIndex, load_terms, save_terms
from .manifest import REBUILD_HINT, Manifest, file_digest

_DATA_FILES = ("documents.jsonl", "chunks.jsonl", "vectors.npy")


@dataclass
class Index:
    """One loaded version: documents, chunks (row i of the stores is chunks[i]) and the stores.

    Searches and answers read an index through `dense`, `keyword`, `passages`, `similarities`,
    `documents`, `lexical.idf` and `manifest`, which `storage.milvus.MilvusIndex` provides too;
    passages are keyed by row here."""

    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    store: VectorStore
    lexical: LexicalIndex
    version: str = ""
    terms: list[list[str]] | None = None  # each passage's BM25 terms, kept for the next update
    folder: Path | None = None

    def passage_terms(self) -> list[list[str]] | None:
        """Each passage's BM25 terms as this version stored them (read on demand: only an update
        needs them); None for a version written without them."""
        if self.terms is None and self.folder is not None:
            self.terms = load_terms(self.folder, len(self.chunks))
        return self.terms

    @property
    def where(self) -> str:
        return f"index {self.folder}"

    @property
    def size(self) -> int:
        return len(self.chunks)

    def passages_of(self, doc_id: str) -> list[Chunk]:
        """A document's passages, in text order."""
        return [c for c in self.chunks if c.doc_id == doc_id]

    def rows_by_document(self) -> dict[str, list[int]]:
        """Each document's passage rows, in text order."""
        rows: dict[str, list[int]] = {}
        for row, c in enumerate(self.chunks):
            rows.setdefault(c.doc_id, []).append(row)
        return rows

    def dense(self, query: np.ndarray, n: int) -> list[tuple[int, float]]:
        """The `n` passages nearest `query`, best first, as (row, score)."""
        return self.store.search(query, n)

    def keyword(self, text: str, lang: Lang, n: int) -> list[tuple[int, float]]:
        """BM25's `n` best passages sharing a term with `text`, as (row, score)."""
        return self.lexical.search(text, lang, n)

    def passages(self, rows: Sequence[int]) -> dict[int, Chunk]:
        return {row: self.chunks[row] for row in rows}

    def describe(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """The documents with these ids, for their metadata (a Milvus index leaves their text out)."""
        return {d: self.documents[d] for d in doc_ids if d in self.documents}

    def similarities(self, rows: Sequence[int], query: np.ndarray) -> dict[int, float]:
        return {row: float(self.vectors[row] @ query) for row in rows}

    def indexed_documents(self) -> list[IndexedDocument]:
        """What the index holds, in index order, without the texts."""
        counts = Counter(c.doc_id for c in self.chunks)
        m = self.manifest
        return [
            IndexedDocument(
                d.doc_id,
                d.title,
                d.source,
                d.lang,
                counts[d.doc_id],
                m.indexed.get(d.doc_id, m.created),
                d.url,
                d.date,
                d.publisher,
            )
            for d in self.documents.values()
        ]


def current_version(root: Path) -> str | None:
    try:
        name = (root / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {root / 'CURRENT'} ({exc}); {REBUILD_HINT}") from None
    if not name.startswith("v-") or "/" in name:
        raise IndexCorruptError(f"{root / 'CURRENT'} names no version ({name[:40]!r}); {REBUILD_HINT}")
    return name


def exists(root: Path) -> bool:
    return current_version(Path(root)) is not None


def current_store(root: Path) -> str | None:
    """The store the live version of `root` was written for ("flat", "hnsw", "ivf", or "milvus"
    for a version that mirrored its vectors into Milvus), or None without an index."""
    version = current_version(Path(root)) if Path(root).exists() else None
    if version is None:
        return None
    try:
        return Manifest.read(Path(root) / version / "manifest.json").store
    except RagError:
        return None


def load(root: Path, *, verify: bool = True) -> Index:
    """Load the live version of the index in `root`.

    Raises:
        IndexNotFoundError: there is no index in `root`.
        IndexCorruptError: a file is missing, truncated or altered (names the file).
        IndexMismatchError: the index has a newer format version.
    """
    root = Path(root)
    version = current_version(root)
    if version is None:
        raise IndexNotFoundError(f"no index in {root}; build one with `python -m rag index PATH... --index {root}`")
    folder = root / version
    manifest = Manifest.read(folder / "manifest.json")
    if verify:
        for name, expected in manifest.files.items():
            path = folder / name
            if not path.exists():
                raise IndexCorruptError(f"index file {path} is missing; {REBUILD_HINT}")
            if path.stat().st_size != expected["size"] or file_digest(path)["sha256"] != expected["sha256"]:
                raise IndexCorruptError(
                    f"index file {path} is truncated or corrupted (checksum mismatch); {REBUILD_HINT}"
                )
    try:
        documents = {}
        for line in (folder / "documents.jsonl").read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            documents[d["doc_id"]] = Document(**d)
        chunks = []
        for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
            chunk_id, doc_id, start, end = json.loads(line)
            doc = documents[doc_id]
            chunks.append(Chunk(chunk_id, doc_id, doc.title, doc.text[start:end], start, end))
        # Memory-mapped: searches read a few rows (scores of passages only BM25 found), updates
        # copy them; a serving process does not hold a second copy of what the vector store has.
        vectors = np.load(folder / "vectors.npy", allow_pickle=False, mmap_mode="r")
        if (folder / VectorStore.file_name).exists():
            store = VectorStore.load(folder / VectorStore.file_name, manifest.store)  # type: ignore[arg-type]
        else:  # a version that mirrored its vectors into a Milvus collection: searched here, flat
            store = VectorStore.build(np.asarray(vectors, dtype=np.float32), kind="flat")
        lexical = LexicalIndex.load(folder / "bm25", len(chunks))
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, RuntimeError) as exc:
        raise IndexCorruptError(f"index {folder} is unreadable ({type(exc).__name__}: {exc}); {REBUILD_HINT}") from None
    if not (len(chunks) == vectors.shape[0] == store.size == manifest.chunks):
        raise IndexCorruptError(
            f"index {folder} is inconsistent ({len(chunks)} chunks, {vectors.shape[0]} vectors, "
            f"{store.size} in the vector store, manifest says {manifest.chunks}); {REBUILD_HINT}"
        )
    return Index(manifest, documents, chunks, vectors, store, lexical, version, folder=folder)


def save(root: Path, index: Index) -> str:
    """Write `index` as a new version of `root` and make it live; returns the version name.

    Raises:
        RagError: the write failed (disk full, permissions); the previous version stays live.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    version = _next_version(root)
    tmp = root / f".{version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as fh:
            for doc in index.documents.values():
                fh.write(json.dumps(doc.__dict__, ensure_ascii=False) + "\n")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in index.chunks:
                fh.write(json.dumps([c.chunk_id, c.doc_id, c.start, c.end], ensure_ascii=False) + "\n")
        np.save(tmp / "vectors.npy", index.vectors, allow_pickle=False)
        index.store.save(tmp / index.store.file_name)
        (tmp / "bm25").mkdir()
        index.lexical.save(tmp / "bm25")
        data_files = [*_DATA_FILES, index.store.file_name]
        if index.terms is not None:
            save_terms(tmp, index.terms)
            data_files += TERMS_FILES
        files = {name: file_digest(tmp / name) for name in data_files}
        for p in sorted((tmp / "bm25").iterdir()):
            files[f"bm25/{p.name}"] = file_digest(p)
        manifest = replace(index.manifest, files=files, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (tmp / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        _fsync_tree(tmp)
        os.replace(tmp, root / version)
        _atomic_write(root / "CURRENT", version + "\n")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RagError(
            f"could not write the index in {root} ({exc.strerror or exc}); the previous index is unchanged. "
            "Free some disk space or choose another --index folder."
        ) from exc
    index.manifest, index.version, index.folder = manifest, version, root / version
    _prune(root, keep={version, *_previous(root, version)})
    return version


@contextlib.contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """One writer at a time per index folder (readers never wait: they read `CURRENT`)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RagError(f"another process is writing the index in {root}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _next_version(root: Path) -> str:
    numbers = [int(p.name[2:]) for p in root.glob("v-*") if p.name[2:].isdigit()]
    return f"v-{max(numbers, default=0) + 1:06d}"


def _previous(root: Path, version: str) -> list[str]:
    older = sorted(p.name for p in root.glob("v-*") if p.name < version)
    return older[-1:]  # keep one previous version for readers that loaded it a moment ago


def _prune(root: Path, keep: set[str]) -> None:
    for p in root.iterdir():
        if (p.name.startswith("v-") and p.name not in keep) or (p.name.startswith(".v-") and p.name.endswith(".tmp")):
            shutil.rmtree(p, ignore_errors=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


from .milvus import MilvusIndex  # noqa: E402 - below Index, which milvus.py does not need

AnyIndex = Index | MilvusIndex  # what searches and answers read: a local version or a Milvus index
