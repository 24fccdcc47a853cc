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

# subtle: torch runs the reranker's bf16 products through oneDNN, which keeps a compiled kernel
# for every matrix shape it meets (up to 1,024 by default); each question's batch has new shapes,
# so that cache alone grew the resident memory ~5 MB a question. 128 shapes: ~500 MB less at the
# peak over 200 squad-en questions, and no speed difference this machine can show there or under
# concurrent load on the seed articles (three runs each; BENCHMARKS.md). A default only: a value
# already set wins. It must be set before torch makes its first product, hence here.
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
    """The shared instance over the project's `index/`, built from `sources/` on first use."""
    global _default
    with _default_lock:
        if _default is None:
            from . import index as index_io
            from .config import project_root
            from .pipeline import RAG

            root = project_root()
            rag = RAG(root / "index")
            if not index_io.exists(rag.index_dir):
                rag.index([root / "sources"])
            _default = rag
        return _default


def ask(question: str, **kwargs: Any) -> Answer:
    """Answer a question from the bundled index (see `RAG.ask`)."""
    return default_rag().ask(question, **kwargs)


def search(query: str, **kwargs: Any) -> list[Hit]:
    """Search the bundled index (see `RAG.search`)."""
    return default_rag().search(query, **kwargs)
