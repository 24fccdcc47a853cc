"""The Milvus vector store: the same interface as the FAISS `VectorStore`, backed by a Milvus
collection. A local file URI ("index/milvus.db") runs Milvus Lite in-process; an http(s) URI talks to
a Milvus server or cluster (with a token).

One collection per index version (created, filled and flushed before the version goes live, dropped
when the version is pruned), holding row number, vector and the chunk's BM25 terms. The terms are our
own French/English stems (elisions, accents, Snowball), so Milvus' built-in BM25 full-text search
ranks with the same terms as the bm25s index and keyword search scales with the cluster. The
collection records the embedding model and dimension as properties and refuses a mismatch.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexCorruptError, IndexMismatchError, RagError
from .manifest import REBUILD_HINT

POINTER_FILE = "vectors.milvus.json"
INSERT_BATCH = 2000
_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def client_for(uri: str, token: str = "") -> Any:
    """One client per (uri, token) in this process (Milvus Lite opens its file once)."""
    from pymilvus import MilvusClient

    key = (uri, token)
    with _clients_lock:
        if key not in _clients:
            # subtle: Milvus Lite logs a full traceback when it cannot open its file; the message
            # below says what happened and what to do, so the library's log is silenced meanwhile.
            logging.disable(logging.ERROR)
            try:
                _clients[key] = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
            except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; one clear message
                hint = (
                    "; Milvus Lite opens its file from one process at a time: stop the other process using "
                    "it (the app or an indexer), or use a Milvus server (--milvus-uri http://host:19530)"
                    if not uri.startswith(("http://", "https://", "tcp://"))
                    else "; check that the server runs and the token ($RAG_MILVUS_TOKEN)"
                )
                raise RagError(f"cannot open Milvus at {uri} ({type(exc).__name__}: {exc}){hint}") from None
            finally:
                logging.disable(logging.NOTSET)
        return _clients[key]


class MilvusStore:
    """Inner-product search over normalised vectors, and BM25 over stems, in one collection."""

    kind = "milvus"
    file_name = POINTER_FILE

    def __init__(self, client: Any, uri: str, collection: str, dim: int, size: int) -> None:
        self._client = client
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.size = size

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        terms: Sequence[str],
        *,
        uri: str,
        token: str = "",
        embedding_model: str,
    ) -> MilvusStore:
        """Create a new collection holding `vectors` (row i) and their BM25 `terms` (space-joined)."""
        from pymilvus import DataType, Function, FunctionType

        client = client_for(uri, token)
        n, dim = vectors.shape
        name = f"rag_{uuid.uuid4().hex[:16]}"
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field(
            "terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params={"tokenizer": "standard"}
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]
            )
        )
        index_params = client.prepare_index_params()
        index_params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        index_params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        properties = {"rag.embedding_model": embedding_model, "rag.dim": str(dim)}
        try:
            client.create_collection(name, schema=schema, index_params=index_params, properties=properties)
            for s in range(0, n, INSERT_BATCH):
                rows = [
                    {"row": i, "vector": vectors[i].tolist(), "terms": (terms[i] or "_")[:60000]}
                    for i in range(s, min(n, s + INSERT_BATCH))
                ]
                client.insert(name, rows)
            client.flush(name)
        except Exception as exc:  # noqa: BLE001 - leave nothing half-made behind
            _drop(client, name)
            raise RagError(f"could not write the Milvus collection {name} at {uri} ({exc}); index unchanged") from None
        return cls(client, uri, name, dim, n)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        result = self._search(
            data=[np.asarray(query, dtype=np.float32).tolist()],
            anns_field="vector",
            limit=min(k, self.size),
            search_params={"metric_type": "IP"},
        )
        return [(int(h["row"]), float(h["distance"])) for h in result[0]]

    def search_terms(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Milvus BM25 over the stems: (row, score) best first, only rows sharing a term."""
        if self.size == 0 or k <= 0 or not terms:
            return []
        result = self._search(
            data=[" ".join(terms)], anns_field="sparse", limit=min(k, self.size), search_params={"metric_type": "BM25"}
        )
        # subtle: Milvus Lite reports BM25 as a negative distance (smaller is better); a server as a
        # positive score. Either way the order is best first; keep a positive score.
        return [(int(h["row"]), abs(float(h["distance"]))) for h in result[0]]

    def _search(self, **kwargs: Any) -> Any:
        try:
            return self._client.search(self.collection, output_fields=["row"], **kwargs)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; one clear message
            raise RagError(f"Milvus search in {self.collection} at {self.uri} failed ({exc})") from None

    def save(self, path: Path) -> None:
        """Write the pointer to the collection (never the token)."""
        path.write_text(json.dumps({"uri": self.uri, "collection": self.collection, "dim": self.dim}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path, *, token: str = "", embedding_model: str, dim: int, size: int) -> MilvusStore:
        """Reconnect to the collection a version points at, and check it is the one the manifest describes."""
        try:
            pointer = json.loads(path.read_text(encoding="utf-8"))
            uri, name = pointer["uri"], pointer["collection"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"index file {path} is unreadable ({exc}); {REBUILD_HINT}") from None
        client = client_for(uri, token)
        if not client.has_collection(name):
            raise IndexCorruptError(f"the Milvus collection {name} at {uri} ({path}) is missing; {REBUILD_HINT}")
        props = client.describe_collection(name).get("properties") or {}
        if props.get("rag.embedding_model") != embedding_model or props.get("rag.dim") != str(dim):
            raise IndexMismatchError(
                f"the Milvus collection {name} at {uri} was built with {props.get('rag.embedding_model')!r} "
                f"(dim {props.get('rag.dim')}), the index manifest says {embedding_model!r} (dim {dim}); {REBUILD_HINT}"
            )
        try:
            client.load_collection(name)  # a collection made by another process starts released
        except Exception as exc:  # noqa: BLE001
            raise RagError(f"cannot load the Milvus collection {name} at {uri} ({exc})") from None
        rows = int(client.get_collection_stats(name).get("row_count", -1))
        if rows != size:
            raise IndexCorruptError(
                f"the Milvus collection {name} at {uri} holds {rows} rows, the index has {size}; {REBUILD_HINT}"
            )
        return cls(client, uri, name, dim, size)

    def drop_pointed_self(self) -> None:
        """Drop this store's own collection (its version was never published)."""
        _drop(self._client, self.collection)

    def drop_pointed(self, path: Path) -> None:
        """Drop the collection an older version's pointer file names (used when pruning versions)."""
        try:
            pointer = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if pointer.get("uri") == self.uri and pointer.get("collection") != self.collection:
            _drop(self._client, pointer.get("collection", ""))


def _drop(client: Any, name: str) -> None:
    try:
        if name and client.has_collection(name):
            client.drop_collection(name)
    except Exception:  # noqa: BLE001, S110 - best effort: a leftover collection is only wasted space
        pass
