"""Exceptions raised by the core. Each message says what is wrong, why, and how to fix it.

The core only raises; turning an error into a user-facing message is the job of `cli.py` and `app.py`.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class for every error the package raises on purpose."""


class ModelNotFoundError(RagError):
    """An embedding or generation model could not be resolved offline."""


class IndexMismatchError(RagError):
    """The index on disk was built with other settings (model, chunker, format)."""


class IndexCorruptError(RagError):
    """A file of the index is missing, truncated or unreadable."""


class IndexNotFoundError(RagError):
    """No index exists at the given directory."""


class UnknownDocumentError(RagError):
    """A document id the index does not hold (removing it, for instance)."""


class SourceError(RagError):
    """A source file or corpus line could not be loaded."""


class LLMUnavailableError(RagError):
    """The language model server cannot be reached or refused the request."""
