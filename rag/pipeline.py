"""`RAG`: the object behind `ask`, `search`, the CLI and the app. Holds the loaded embedding model
and index, reloads the index when another process publishes a new version, and wires retrieval to
the answerer. No printing, no environment variables."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import index as index_io
from .config import ANSWERERS, AnswererName, Config
from .embed import Embedder
from .followup import Turn, contextualize, earlier_question
from .indexing import ProgressCallback, update_index
from .lang import detect_lang
from .llm import BUNDLED_LLM, LLM, TokenCallback
from .manifest import Manifest
from .records import Answer, Hit, IndexStats
from .rerank import Reranker, load_reranker, passages, rerank, worth_reranking
from .retrieve import Mode, rerank_pool
from .retrieve import search as hybrid_search
from .store import StoreKind

if TYPE_CHECKING:
    from .answer import PassageScorer

# Reranking scores remembered per (index version, model, query, candidates), oldest dropped first:
# a few hundred bytes each, and enough for the eval harness to rerank each question once although it
# searches all of a set's questions before it asks them.
RERANK_MEMO = 4096


class RAG:
    """A question-answering session over one index folder.

    Args:
        index_dir: the index folder (created by `index()`).
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
        self.config = config or _config_of(self.index_dir) or Config()
        self._embedder = embedder
        self._index: index_io.Index | None = None
        self._lock = threading.Lock()
        self._llms: dict[str, LLM] = dict(llms or {})
        self._llm_lock = threading.Lock()
        self._rerank_memo: dict[tuple[str, str, str, tuple[str, ...]], list[float]] = {}

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
        rebuild: bool = False,
        store: StoreKind | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> IndexStats:
        """Make the index mirror the documents under `paths` (only new or changed ones are embedded)."""
        stats = update_index(
            self.index_dir,
            list(paths),
            self.embedder,
            self.config,
            rebuild=rebuild,
            store_kind=store,
            on_progress=on_progress,
        )
        self._index = None
        return stats

    def current(self) -> index_io.Index:
        """The live index version, reloaded when a newer one has been published."""
        version = index_io.current_version(self.index_dir)
        idx = self._index
        if idx is None or idx.version != version:
            idx = index_io.load(self.index_dir, milvus_token=self.config.milvus_token)
            idx.manifest.check(self.config, self.index_dir)
            self._index = idx
        return idx

    def search(self, query: str, *, k: int | None = None, mode: Mode = "hybrid") -> list[Hit]:
        """The best chunks for `query` (see `retrieve.search`), reranked when `config.rerank` is set
        and `mode` is "hybrid" (the components alone are never reranked, for comparison)."""
        return self._retrieve(self.current(), query, self.config.k if k is None else k, mode)

    def _retrieve(self, idx: index_io.Index, query: str, k: int, mode: Mode = "hybrid") -> list[Hit]:
        c = self.config
        if not (c.rerank and mode == "hybrid"):
            return hybrid_search(idx, self.embedder, query, k=k, config=c, mode=mode)
        if k < 1:
            raise ValueError(f"k must be at least 1 (got {k})")
        hits = rerank_pool(idx, self.embedder, query, k=k, config=c)
        if not worth_reranking(hits):
            return hits[:k]
        key = (idx.version, c.rerank_model, query, tuple(h.chunk.chunk_id for h in hits))
        scores = self._rerank_memo.get(key)
        if scores is None:  # the same question is often retrieved twice (search, then ask; a retry)
            # and, last, the question after an empty passage: what each passage adds to it (the gate's)
            read = [*passages(idx.documents, (h.chunk for h in hits)), ("", "")]
            scores = self.reranker.scores(query, read, lang=detect_lang(query))
            with self._lock:
                self._rerank_memo[key] = scores
                while len(self._rerank_memo) > RERANK_MEMO:
                    self._rerank_memo.pop(next(iter(self._rerank_memo)))
        return rerank(hits, scores[:-1], weight=c.rerank_weight, k=k, null=scores[-1])

    @property
    def gate_lm_weight(self) -> float:
        """The weight of the reranking LM's gain in the gate (`Config.gate_lm_weight`): calibrated
        for the bundled reranker only, so 0 for another unless the config gives one."""
        from .answer import GATE_LM_WEIGHT

        weight = self.config.gate_lm_weight
        if weight is not None:
            if not isinstance(weight, int | float) or not 0.0 <= weight < float("inf"):
                raise ValueError(
                    f"gate_lm_weight must be a number of 0 or more (got {weight}); "
                    f"None takes {GATE_LM_WEIGHT} with the bundled reranker, 0 with another"
                )
            return float(weight)
        return GATE_LM_WEIGHT if self.config.rerank_model in ("", BUNDLED_LLM) else 0.0

    def quote_scorer(self, question: str, hits: Sequence[Hit]) -> PassageScorer | None:
        """The reranking LM, for the answerer to choose the sentences it quotes (`answer.lm_ordered`),
        when it ordered `hits` (reranking on and worth it) and the embedding model does not read the
        question's language (`Config.embedding_langs`): there the quote score's dense half says
        little. Else None (the quote score alone): on English the LM's choice gained nothing, for
        ~0.6 s (BENCHMARKS.md)."""
        lang = detect_lang(question)
        if not (self.config.rerank and hits and hits[0].rerank_score is not None):
            return None
        if self.config.dense_weight_for(lang) > 0:
            return None
        reranker = self.reranker
        return lambda q, texts: reranker.scores(q, texts, lang=lang)

    @property
    def reranker(self) -> Reranker:
        """The reranking language model, loaded on first use and shared within the process."""
        return load_reranker(self.config.rerank_model, prefix_cache_mb=self.config.rerank_cache_mb)

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
        from .answer import answer_question, close_passages
        from .generative import answer_generated

        if not isinstance(question, str):
            raise ValueError(f"question must be a string (got {type(question).__name__})")
        name = answerer or self.config.answerer
        if name not in ANSWERERS:
            raise ValueError(f"unknown answerer {name!r}; valid answerers are {', '.join(ANSWERERS)}")
        gate = self.config.min_support if min_support is None else min_support
        if not isinstance(gate, int | float) or not 0.0 <= gate <= 1.0:
            raise ValueError(f"min_support must be between 0 and 1 (got {gate}); the default is {Config.min_support}")
        lm_weight = self.gate_lm_weight
        t0 = time.perf_counter()
        earlier = earlier_question(question, history)  # what a follow-up refers to, for the prompt
        query = contextualize(question, history)
        idx = self.current()
        hits = self._retrieve(idx, query, self.config.k if k is None else k)
        t1 = time.perf_counter()
        if name == "extractive":
            scorer = self.quote_scorer(question, hits)
            answer = answer_question(
                question, hits, idx, self.embedder, threshold=gate, lm_weight=lm_weight, scorer=scorer
            )
            if on_token:
                on_token(answer.text)
        else:
            answer = answer_generated(
                question,
                hits,
                idx,
                self.embedder,
                self.llm(name),
                max_tokens=self.config.max_answer_tokens,
                threshold=gate,
                lm_weight=lm_weight,
                on_token=on_token,
                earlier=earlier,
            )
        timings = {"retrieval": t1 - t0, "answer": time.perf_counter() - t1}
        close = close_passages(answer.citations, answer.passages)
        return replace(answer, timings=timings, query=query, close_passages=close)

    def llm(self, answerer: AnswererName) -> LLM:
        """The language model behind a generative answerer, loaded on first use and kept."""
        with self._llm_lock:
            if answerer not in self._llms:
                c = self.config
                if answerer == "openai":
                    from .openai_api import OpenAIChat

                    self._llms[answerer] = OpenAIChat(
                        c.openai_base_url, c.openai_model, api_key=c.openai_api_key, timeout=c.openai_timeout
                    )
                elif answerer == "local":
                    from .llm import load_llm

                    self._llms[answerer] = load_llm(c.llm_model, engine=c.llm_engine, threads=c.llm_threads)
                else:
                    raise ValueError(f"{answerer!r} is not a generative answerer")
            return self._llms[answerer]


def _config_of(index_dir: Path) -> Config | None:
    version = index_io.current_version(index_dir) if index_dir.exists() else None
    if version is None:
        return None
    try:
        m = Manifest.read(index_dir / version / "manifest.json")
    except Exception:  # noqa: BLE001 - a broken manifest is reported with its message on load
        return None
    return Config().with_(
        embedding_model=m.embedding_model, query_prompt=m.query_prompt, passage_prompt=m.passage_prompt, **m.chunker
    )
