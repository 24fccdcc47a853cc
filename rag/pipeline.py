"""`RAG`: the object behind `ask`, `search`, the CLI and the app. Holds the loaded embedding model
and index, reloads the index when another process publishes a new version, and wires retrieval to
the answerer. No printing, no environment variables."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answer.close_calls import close_passages
from .config import ANSWERERS, AnswererName, Config
from .crosslingual import lm_chooses_quotes
from .errors import RagError
from .ingest.indexing import ProgressCallback, update_index, update_milvus
from .ingest.sources import count_sources, documents_from_texts, iter_sources
from .models.embed import Embedder
from .models.llm import LLM, TokenCallback
from .models.lm_scoring import Reranker
from .query import read_query
from .records import Answer, Document, Hit, IndexedDocument, IndexStats, Query, Skipped
from .search.hybrid import Mode
from .search.hybrid import search as hybrid_search
from .search.rerank import Reranking
from .storage import index as index_io
from .storage.faiss_store import StoreKind
from .storage.manifest import Manifest
from .storage.milvus import MilvusIndex
from .text.followup import Turn

if TYPE_CHECKING:
    from .answer.extractive import PassageScorer


class GenerationStopped(Exception):
    """Raised inside the token callback once the reader of `RAG.ask_stream` has gone: generation
    ends there."""


class RAG:
    """A question-answering session over one index: the index folder, or Milvus when
    `config.milvus_uri` names a server or the folder holds a Milvus Lite file (`index/milvus.db`)
    with the index.

    Args:
        index_dir: the index folder (created by `index()`); with Milvus, where indexing stages its
            embeddings and where the embedding model's converted copies are cached.
        config: settings; when None, those the existing index was built with (else the defaults).
        embedder: an already loaded model to share between instances.
        llms: already loaded language models by answerer name ("local", "openai") to share.
    """

    def __init__(
        self,
        index_dir: str | Path = "index",
        *,
        config: Config | None = None,
        embedder: Embedder | None = None,
        llms: dict[str, LLM] | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._config = config or index_config(self.index_dir)
        self._milvus_uri = ""  # where the index is held in Milvus, once found there
        self._embedder = embedder
        self._index: index_io.Index | None = None
        self._lock = threading.Lock()
        self._llms: dict[str, LLM] = dict(llms or {})
        self._llm_lock = threading.Lock()
        self._reranking = Reranking(self.config)

    @property
    def config(self) -> Config:
        """The settings, fixed for this object's life: make another `RAG` for others."""
        return self._config

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                c = self.config
                self._embedder = Embedder(
                    c.embedding_model,
                    query_prompt=c.query_prompt,
                    passage_prompt=c.passage_prompt,
                    batch_size=c.batch_size,
                    backend=c.embedding_backend,
                    cache_dir=self.index_dir / "models",
                )
        return self._embedder

    def index(
        self,
        paths: Iterable[str | Path],
        *,
        sync: bool = False,
        rebuild: bool = False,
        store: StoreKind | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> IndexStats:
        """Add the documents under `paths` (files, folders, .jsonl corpora): new ones are added,
        changed ones replaced, and only they are embedded. Other indexed documents are kept unless
        `sync` (the index then mirrors `paths`; `IndexStats.removed_ids` names what went) or
        `rebuild` (embed `paths` again from scratch, e.g. for a new model; the index holds them only).
        `store`: FAISS index type, or "milvus" to keep the index in Milvus (`config.milvus_uri`, else a
        Milvus Lite file in the index folder; a local index there is moved in first, not embedded
        again); default: where the index already is."""
        paths = list(paths)
        return self._update(
            iter_sources(paths),
            sync=sync,
            rebuild=rebuild,
            store_kind=store,
            on_progress=on_progress,
            total=count_sources(paths) if on_progress else None,
        )

    add = index

    def add_texts(
        self, texts: Iterable[Mapping[str, str] | Document], *, on_progress: ProgressCallback | None = None
    ) -> IndexStats:
        """Add texts a program already has: dicts with "text" and optionally "doc_id", "title",
        "url", "lang", "date", "publisher" (see `ingest.sources.documents_from_texts`). A text with
        the doc_id (else url) of an indexed one replaces it. Raises ValueError, changing nothing,
        when an item is invalid."""
        docs = documents_from_texts(texts)
        return self._update(docs, on_progress=on_progress, total=len(docs))

    def remove(self, doc_ids: Iterable[str]) -> IndexStats:
        """Remove documents by id (`documents()` lists them); loads no model. Raises
        UnknownDocumentError, changing nothing, when an id is not in the index."""
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
        return self._update([], remove=ids)

    def documents(self) -> list[IndexedDocument]:
        """What the index holds, without the texts (in index order; from Milvus, oldest first)."""
        return self.current().indexed_documents()

    def milvus_uri(self) -> str:
        """Where the index is held in Milvus ("" for a local index): `config.milvus_uri`, else the
        Milvus Lite file in the index folder when it holds the index."""
        if not self._milvus_uri:
            c = self.config
            lite = self.index_dir / "milvus.db"
            if c.milvus_uri:
                self._milvus_uri = c.milvus_uri
            elif lite.exists() and MilvusIndex.exists(str(lite), c.milvus_token, c.milvus_collection):
                self._milvus_uri = str(lite)
        return self._milvus_uri

    def exists(self) -> bool:
        """Whether there is an index to search (in the folder or in Milvus)."""
        uri = self.milvus_uri()
        if uri:
            return MilvusIndex.exists(uri, self.config.milvus_token, self.config.milvus_collection)
        return index_io.exists(self.index_dir)

    def _update(
        self, sources: Iterable[Document | Skipped], *, store_kind: StoreKind | None = None, **options: Any
    ) -> IndexStats:
        c = self.config
        uri = self.milvus_uri()
        try:
            if store_kind == "milvus" or (
                store_kind is None and (uri or index_io.current_store(self.index_dir) == "milvus")
            ):
                uri = uri or c.milvus_uri or str(self.index_dir / "milvus.db")
                return update_milvus(self.index_dir, uri, sources, lambda: self.embedder, c, **options)
            if uri:
                raise RagError(
                    f"the index is held in Milvus at {uri}; it cannot become a local {store_kind} index in place: "
                    "index into another --index folder (without --milvus-uri), or keep --store milvus"
                )
            return update_index(self.index_dir, sources, lambda: self.embedder, c, store_kind=store_kind, **options)
        finally:
            self._index = None
            self._milvus_uri = ""

    def current(self) -> index_io.AnyIndex:
        """The live index: a local version (reloaded when a newer one has been published), or a
        view of the Milvus index as it is now (opened for each question: it fetches what it needs)."""
        uri = self.milvus_uri()
        if uri:
            c = self.config
            view = MilvusIndex.open(uri, c.milvus_token, c.milvus_collection)
            view.manifest.check(c, view.where)
            return view
        version = index_io.current_version(self.index_dir)
        idx = self._index
        if idx is None or idx.version != version:
            idx = index_io.load(self.index_dir)
            idx.manifest.check(self.config, self.index_dir)
            self._index = idx
        return idx

    def search(
        self, query: str, *, k: int | None = None, mode: Mode = "hybrid", history: Sequence[Turn] | None = None
    ) -> list[Hit]:
        """The best chunks for `query` (see `search.hybrid.search`), reranked when `config.rerank` is
        set and `mode` is "hybrid" (the components alone are never reranked, for comparison). With
        `history`, a follow-up question is completed from it first, as `ask` does."""
        return self._retrieve(self.current(), read_query(query, history), self.config.k if k is None else k, mode)

    def _retrieve(self, idx: index_io.AnyIndex, query: Query, k: int, mode: Mode = "hybrid") -> list[Hit]:
        if not (self.config.rerank and mode == "hybrid"):
            return hybrid_search(idx, self.embedder, query, k=k, config=self.config, mode=mode)
        if k < 1:
            raise ValueError(f"k must be at least 1 (got {k})")
        return self._reranking.search(idx, self.embedder, query, k)

    def quote_scorer(self, query: Query, hits: Sequence[Hit]) -> PassageScorer | None:
        """The reranking LM, for the extractive answerer to choose the sentences it quotes, where
        the cross-language policy gives it that job (`crosslingual.lm_chooses_quotes`); else None."""
        if not lm_chooses_quotes(self.config, query.lang, hits):
            return None
        reranker = self.reranker
        return lambda q, texts: reranker.scores(q, texts, lang=query.lang)

    @property
    def reranker(self) -> Reranker:
        """The reranking language model, loaded on first use and shared within the process."""
        return self._reranking.reranker

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] | None = None,
        k: int | None = None,
        answerer: AnswererName | None = None,
        on_token: TokenCallback | None = None,
        min_support: float | None = None,
    ) -> Answer:
        """Answer `question` from the index, with citations, or say the sources do not contain it.

        Args:
            question: the question as the user wrote it.
            history: earlier turns ({"role": "user"|"assistant", "content": ...}); a follow-up
                question is completed from them before retrieval.
            k: passages retrieved (default `config.k`).
            answerer: "extractive", "local" or "openai" (default `config.answerer`).
            on_token: called with each piece of the answer as it is generated (the extractive
                answerer sends its whole text at once). The returned `Answer.text` is the verified
                text, whose markers may differ from the streamed ones.
            min_support: the support (0-1) the best evidence sentence needs for an answer, else the
                sources are said not to contain it (default `config.min_support`; `Answer.support`
                reports the value reached).
        """
        from .answer.extractive import answer_question
        from .answer.generative import answer_generated

        if not isinstance(question, str):
            raise ValueError(f"question must be a string (got {type(question).__name__})")
        name = answerer or self.config.answerer
        if name not in ANSWERERS:
            raise ValueError(f"unknown answerer {name!r}; valid answerers are {', '.join(ANSWERERS)}")
        gate = self.config.min_support if min_support is None else min_support
        if not isinstance(gate, int | float) or not 0.0 <= gate <= 1.0:
            raise ValueError(f"min_support must be between 0 and 1 (got {gate}); the default is {Config.min_support}")
        t0 = time.perf_counter()
        query = read_query(question, history)
        idx = self.current()
        hits = self._retrieve(idx, query, self.config.k if k is None else k)
        t1 = time.perf_counter()
        if name == "extractive":
            scorer = self.quote_scorer(query, hits)
            answer = answer_question(query, hits, idx, self.embedder, self.config, threshold=gate, scorer=scorer)
            if on_token:
                on_token(answer.text)
        else:
            answer = answer_generated(
                query, hits, idx, self.embedder, self.llm(name), self.config, threshold=gate, on_token=on_token
            )
        timings = {"retrieval": t1 - t0, "answer": time.perf_counter() - t1}
        close = close_passages(answer.citations, answer.passages, self.config.tuned.close_call_margin)
        return replace(answer, timings=timings, query=query.search_text, close_passages=close)

    def ask_stream(self, question: str, **options: Any) -> Iterator[str | Answer]:
        """`ask` as it happens: the answer's text in pieces (str) as it is written, then the verified
        `Answer` last. Closing the iterator early (a reader pressed Stop, a client went away) ends
        a language model's generation at its next token. `options` are `ask`'s."""
        pieces: queue.Queue[str | None] = queue.Queue()
        result: dict[str, Any] = {}
        closed = threading.Event()

        def on_token(piece: str) -> None:
            if closed.is_set():
                raise GenerationStopped
            pieces.put(piece)

        def run() -> None:
            try:
                result["answer"] = self.ask(question, on_token=on_token, **options)
            except Exception as exc:  # noqa: BLE001 - re-raised in the reader's thread
                result["error"] = exc
            finally:
                pieces.put(None)

        threading.Thread(target=run, daemon=True, name="rag-answer").start()
        try:
            while (piece := pieces.get()) is not None:
                yield piece
        finally:
            closed.set()
        if "error" in result:
            raise result["error"]
        yield result["answer"]

    def llm(self, answerer: AnswererName) -> LLM:
        """The language model behind a generative answerer, loaded on first use and kept."""
        with self._llm_lock:
            if answerer not in self._llms:
                c = self.config
                if answerer == "openai":
                    from .models.openai_client import OpenAIChat

                    self._llms[answerer] = OpenAIChat(
                        c.openai_base_url, c.openai_model, api_key=c.openai_api_key, timeout=c.openai_timeout
                    )
                elif answerer == "local":
                    from .models.llama_cpp import load_llm

                    self._llms[answerer] = load_llm(c.llm_model, engine=c.llm_engine, threads=c.llm_threads)
                else:
                    raise ValueError(f"{answerer!r} is not a generative answerer")
            return self._llms[answerer]


def index_config(index_dir: str | Path, base: Config | None = None) -> Config:
    """The settings an existing index was built with (embedding model, prompts, chunker), else
    `base`'s (default: the defaults): what `RAG(index_dir)` uses when given no config. The index is
    the one in Milvus when `base.milvus_uri` is set or the folder holds a Milvus Lite index."""
    base = base or Config()
    index_dir = Path(index_dir)
    lite = index_dir / "milvus.db"
    if base.milvus_uri or lite.exists():
        uri = base.milvus_uri or str(lite)
        try:
            if MilvusIndex.exists(uri, base.milvus_token, base.milvus_collection):
                built = MilvusIndex.open(uri, base.milvus_token, base.milvus_collection).settings
                return base.with_(
                    embedding_model=built["embedding_model"],
                    query_prompt=built["query_prompt"],
                    passage_prompt=built["passage_prompt"],
                    **built["chunker"],
                )
        except RagError:  # reported with its message when the index is opened
            return base
    version = index_io.current_version(index_dir) if index_dir.exists() else None
    if version is None:
        return base
    try:
        m = Manifest.read(index_dir / version / "manifest.json")
    except Exception:  # noqa: BLE001 - a broken manifest is reported with its message on load
        return base
    return base.with_(
        embedding_model=m.embedding_model, query_prompt=m.query_prompt, passage_prompt=m.passage_prompt, **m.chunker
    )
