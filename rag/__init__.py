"""Question answering over a collection of articles, with verified citations.

    from rag import ask
    answer = ask("Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
    answer.text, answer.citations, answer.answered

Heavy libraries (torch, faiss, transformers) load on first use, so `import rag` is fast.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

# subtle: oneDNN keeps a compiled kernel per matrix shape (1,024 by default) and every question's
# reranker batch has new shapes, so resident memory grew with each question; 128 bounds it at no
# measurable cost. A default only (a value already set wins); it must precede torch's first product.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "128")

from .config import Config
from .errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelNotFoundError,
    RagError,
    SourceError,
)
from .records import Answer, Chunk, Citation, Document, Hit, IndexStats, Skipped

if TYPE_CHECKING:
    from .pipeline import RAG

__all__ = [
    "RAG",
    "ask",
    "search",
    "default_rag",
    "Config",
    "Answer",
    "Chunk",
    "Citation",
    "Document",
    "Hit",
    "IndexStats",
    "Skipped",
    "RagError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "ModelNotFoundError",
    "SourceError",
]

_default: RAG | None = None
_default_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name == "RAG":
        from .pipeline import RAG

        return RAG
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


def default_rag() -> RAG:
    """The shared instance over `index/`, built from `sources/` on first use: the repository's in a
    source checkout, else those in the current folder (`config.default_folders`)."""
    global _default
    with _default_lock:
        if _default is None:
            from .config import default_folders
            from .errors import IndexNotFoundError
            from .pipeline import RAG
            from .storage import index as index_io

            index_dir, sources = default_folders()
            rag = RAG(index_dir)
            if not index_io.exists(rag.index_dir):
                if not sources.is_dir():
                    raise IndexNotFoundError(
                        f"no index in {index_dir} and no {sources} folder to build it from; "
                        "build one with `rag index PATH...`, or use rag.RAG(index_dir)"
                    )
                rag.index([sources])
            _default = rag
        return _default


def ask(question: str, **kwargs: Any) -> Answer:
    """Answer a question from the bundled index (see `RAG.ask`)."""
    return default_rag().ask(question, **kwargs)


def search(query: str, **kwargs: Any) -> list[Hit]:
    """Search the bundled index (see `RAG.search`)."""
    return default_rag().search(query, **kwargs)
