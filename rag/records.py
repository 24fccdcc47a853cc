"""Typed records that cross module boundaries. Plain frozen dataclasses, no behaviour beyond
serialisation; every offset is a character offset into `Document.text`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Lang = Literal["fr", "en"]
# How sure an answer is (`Answer.confidence`): "sure", the sources say it; "closest", they do not say
# it directly and the text shows the closest passage as related material; "none", a refusal.
Confidence = Literal["sure", "closest", "none"]


@dataclass(frozen=True)
class Document:
    """One article. `doc_id` is stable: the path relative to the indexed folder, or the corpus id."""

    doc_id: str
    title: str
    text: str
    source: str
    lang: Lang = "fr"
    url: str = ""
    date: str = ""
    publisher: str = ""


@dataclass(frozen=True)
class Query:
    """A question, read once (`query.read_query`) and carried through retrieval, reranking, the
    gate, quoting and the refusal, so every stage sees the same text and language."""

    text: str  # as the user asked it: what evidence is scored against and the answer is for
    search_text: str  # what retrieval and reranking read: completed from the conversation for a follow-up
    lang: Lang  # decided once, from the question (from the earlier one when it shows none)
    earlier: str = ""  # the earlier question a follow-up refers to ("" when it stands alone)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: `document.text[start:end] == text`."""

    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its final score and the component scores (None when that retriever
    did not return the chunk). After reranking, `score` mixes `retrieval_score` (the hybrid score)
    with `rerank_score` (the language model's mean log-probability of the question); `rerank_gain` is
    how much higher that is than after no passage at all (what the passage adds to the question)."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    lexical_score: float | None = None
    source: str = ""
    url: str = ""
    retrieval_score: float | None = None
    rerank_score: float | None = None
    rerank_gain: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """The exact supporting span of a claim: `document.text[start:end] == quote`."""

    n: int
    doc_id: str
    title: str
    source: str
    url: str
    quote: str
    start: int
    end: int
    score: float
    chunk_id: str = ""


@dataclass(frozen=True)
class Answer:
    """What `ask` returns. `answered` is False when the sources do not contain the answer; then
    `citations` is empty and `passages` holds the closest (related, not supporting) hits.
    `unsupported` lists generated sentences that no passage supports (shown as such, never cited)."""

    question: str
    text: str
    answered: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    unsupported: tuple[str, ...] = ()
    answerer: str = "extractive"
    lang: Lang = "fr"
    timings: dict[str, float] = field(default_factory=dict)
    # What was retrieved with: the question, completed from the conversation for a follow-up.
    query: str = ""
    # How well the sources support an answer (about 0-1): what the answerability gate compares with
    # `Config.min_support`, so a caller can apply a stricter threshold of its own. The best evidence
    # sentence's match with the question, moved by how much the top passage raises the question's
    # likelihood under the reranking language model when it ran (`answer.gate_support`).
    support: float = 0.0
    # The chunk ids of retrieved passages, not cited, that the reranker scored almost as high as the
    # cited one (`answer.close_passages`): the answer may be in them instead; the app and the CLI
    # show them beside the citations. Empty when the order was clear or there was no reranking.
    close_passages: tuple[str, ...] = ()
    # "sure" when `support` reaches `Tuned.sure_support`; "closest" between `min_support` and that
    # (the text says the articles do not say it directly and quotes the closest passage); "none"
    # for a refusal (`answered` False).
    confidence: Confidence = "sure"

    def close_hits(self) -> list[Hit]:
        """The retrieved hits `close_passages` names, best first (what the app and the CLI show)."""
        by_id = {h.chunk.chunk_id: h for h in self.passages}
        return [by_id[c] for c in self.close_passages if c in by_id]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    """A file or corpus line that could not be loaded, with the reason."""

    source: str
    reason: str


@dataclass(frozen=True)
class IndexedDocument:
    """A document as the index holds it (`RAG.documents()`, `rag list`): no text, just what
    identifies it, and `indexed`, when its current version was indexed (ISO 8601)."""

    doc_id: str
    title: str
    source: str
    lang: Lang
    chunks: int
    indexed: str = ""
    url: str = ""
    date: str = ""
    publisher: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IndexStats:
    """What an indexing run did."""

    documents: int
    chunks: int
    added: int
    changed: int
    removed: int
    unchanged: int
    embedded_chunks: int
    skipped: tuple[Skipped, ...] = ()
    seconds: float = 0.0
    version: str = ""
    embedding_backend: str = ""
    # Chunks whose vectors were staged by an earlier, interrupted run and not embedded again.
    resumed_chunks: int = 0
    added_ids: tuple[str, ...] = ()  # the documents this run added, changed and removed
    changed_ids: tuple[str, ...] = ()
    removed_ids: tuple[str, ...] = ()
    # Rows the update wrote: a local index writes every passage of its new version; Milvus the
    # passages, text parts and heads of the documents that changed.
    written_rows: int = 0

    @property
    def passages_per_second(self) -> float:
        return self.embedded_chunks / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passages_per_second"] = self.passages_per_second
        return d
