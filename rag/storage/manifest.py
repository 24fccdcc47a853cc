"""The index manifest: what built the index (format version, embedding model and dimension, prompts,
chunker settings), one content hash per document, and a size and checksum per file. Loading checks
it and refuses a mismatch with a message that says how to rebuild."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import IndexCorruptError, IndexMismatchError
from ..records import Document

FORMAT_VERSION = 1
REBUILD_HINT = "rebuild it with `python -m rag index PATH... --rebuild`"


@dataclass(frozen=True)
class Manifest:
    format_version: int
    embedding_model: str
    dim: int
    query_prompt: str
    passage_prompt: str
    chunker: dict[str, Any]
    store: str
    documents: dict[str, str]  # doc_id -> content hash
    chunks: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {size, sha256}
    created: str = ""
    indexed: dict[str, str] = field(default_factory=dict)  # doc_id -> when its current text was indexed

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexCorruptError(f"index manifest {path} is missing; {REBUILD_HINT}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndexCorruptError(f"index manifest {path} is unreadable ({exc}); {REBUILD_HINT}") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("format_version"), int):
            raise IndexCorruptError(f"index manifest {path} has no format_version; {REBUILD_HINT}")
        if raw["format_version"] > FORMAT_VERSION:
            raise IndexMismatchError(
                f"index {path.parent} has format version {raw['format_version']}, newer than this "
                f"program reads ({FORMAT_VERSION}): upgrade the program, or {REBUILD_HINT}"
            )
        try:
            return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
        except TypeError as exc:
            raise IndexCorruptError(f"index manifest {path} is incomplete ({exc}); {REBUILD_HINT}") from None

    def check(self, config: Config, where: Path | str) -> None:
        """Raise IndexMismatchError unless the index was built with `config`'s settings."""
        wanted = {
            "embedding model": (self.embedding_model, config.embedding_model),
            "query prompt": (self.query_prompt, config.query_prompt),
            "passage prompt": (self.passage_prompt, config.passage_prompt),
            "chunker settings": (self.chunker, config.chunker_settings()),
        }
        for what, (have, want) in wanted.items():
            if have != want:
                raise IndexMismatchError(
                    f"index {where} was built with {what} {have!r}, but {want!r} is configured; "
                    f"vectors and chunks of different settings are never mixed: {REBUILD_HINT}, "
                    f"or configure {have!r}"
                )


def document_hash(doc: Document) -> str:
    """Changes whenever anything that ends up in the index changes (text, title, language...)."""
    payload = json.dumps(
        [doc.title, doc.text, doc.lang, doc.url, doc.source, doc.date, doc.publisher], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def file_digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"size": path.stat().st_size, "sha256": h.hexdigest()}
