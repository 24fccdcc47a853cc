from __future__ import annotations

import numpy as np
import pytest

from rag.storage.faiss_store import VectorStore


def _unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("n,k", [(1, 1), (10, 3), (50, 10), (7, 20)])
def test_flat_search_equals_brute_force(n, k):
    rng = np.random.default_rng(n)
    x, q = _unit(rng, n, 32), _unit(rng, 1, 32)[0]
    got = VectorStore.build(x).search(q, k)
    want = np.argsort(-(x @ q), kind="stable")[:k]
    assert [r for r, _ in got] == list(want)
    assert len(got) == min(k, n)
    assert np.allclose([s for _, s in got], (x @ q)[want], atol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_most_true_neighbours(kind):
    rng = np.random.default_rng(0)
    x, qs = _unit(rng, 3000, 32), _unit(rng, 20, 32)
    store = VectorStore.build(x, kind=kind)
    recall = np.mean([len({r for r, _ in store.search(q, 10)} & set(np.argsort(-(x @ q))[:10])) / 10 for q in qs])
    assert recall >= 0.8


def test_empty_store_and_round_trip(tmp_path):
    empty = VectorStore.build(np.zeros((0, 8), np.float32))
    assert empty.search(np.ones(8, np.float32), 5) == []
    rng = np.random.default_rng(1)
    x = _unit(rng, 20, 8)
    store = VectorStore.build(x)
    store.save(tmp_path / "v.faiss")
    assert VectorStore.load(tmp_path / "v.faiss", "flat").search(x[3], 3) == store.search(x[3], 3)
