"""Vector stores: exact or approximate inner-product search over L2-normalised vectors.

FAISS is the embedded default. Row i of the store is chunk i of the index; the store knows nothing
about chunks or documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

IndexType = Literal["flat", "hnsw", "ivf"]
# Where vectors live: a FAISS index type, or a Milvus collection (rag.milvus_store).
StoreKind = Literal["flat", "hnsw", "ivf", "milvus"]


class VectorStore:
    """FAISS inner-product index (cosine on normalised vectors)."""

    file_name = "vectors.faiss"

    def __init__(self, index: object, dim: int, kind: IndexType) -> None:
        self._index = index
        self.dim = dim
        self.kind = kind

    @property
    def size(self) -> int:
        return int(self._index.ntotal)  # type: ignore[attr-defined]

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, kind: IndexType = "flat", hnsw_m: int = 32, ef_search: int = 128
    ) -> VectorStore:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        index: Any  # subtle: faiss' stubs type each index class apart; they share one C++ interface
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = ef_search
        elif kind == "ivf":
            nlist = max(1, min(4096, int(np.sqrt(max(n, 1)))))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            if n:
                index.train(vectors[np.random.default_rng(0).permutation(n)[: nlist * 64]])
            index.nprobe = min(nlist, 16)
        else:
            raise ValueError(f"unknown index type {kind!r}; choose one of 'flat', 'hnsw', 'ivf'")
        if n:
            index.add(vectors)
        return cls(index, dim, kind)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top `k` (row, score) by inner product, best first."""
        if self.size == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = self._index.search(q, min(k, self.size))  # type: ignore[attr-defined]
        # subtle: faiss pads missing results with id -1 (HNSW/IVF may return fewer than k).
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))  # type: ignore[call-overload]

    @classmethod
    def load(cls, path: Path, kind: IndexType) -> VectorStore:
        import faiss

        index = faiss.read_index(str(path))
        return cls(index, int(index.d), kind)
