"""Embedding backends: every runtime gives the torch model's vectors and token counts (int8 within
its measured tolerance), exports are cached, self-heal and refuse models they cannot reproduce."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import ModelNotFoundError
from rag.models.embed import Embedder, resolve_model

TEXTS = [
    "Qui a fondé Mistral AI, et en quelle année ?",
    "L’élève d’aujourd’hui : « garçon », naïveté, cœur — accents et élisions.",
    "The quick brown fox jumps over the lazy dog.",
    "mot " * 400,  # past the 256-token window: truncated the same way everywhere
    "🙂 emoji",
    "x",
]
LOSSLESS = ["onnx", "openvino-fp32", "openvino"]


@pytest.fixture(scope="module")
def torch_embedder():
    return Embedder(backend="torch")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


@pytest.mark.parametrize("backend", [*LOSSLESS, "torch-bf16", "onnx-int8"])
def test_backend_matches_torch(backend, torch_embedder, cache):
    e = Embedder(backend=backend, cache_dir=cache)
    assert e.backend == backend
    assert (e.dim, e.max_seq_length) == (torch_embedder.dim, torch_embedder.max_seq_length)
    assert e.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)
    got, want = e.embed_passages(TEXTS), torch_embedder.embed_passages(TEXTS)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(got * want, axis=1)
    floor = {"onnx": 0.99999, "openvino-fp32": 0.99999, "openvino": 0.9999, "torch-bf16": 0.995}.get(backend, 0.97)
    assert cosine.min() >= floor, cosine
    q = e.embed_queries(["Qui a fondé Mistral AI ?"])
    assert q.shape == (1, e.dim)


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_inputs_padded_to_fewer_shapes_give_the_same_vectors(backend, cache):
    """Batches are padded to a multiple of 8 tokens (fewer shapes for the runtime to compile and
    keep); a text's vector does not depend on its batch or its padding."""
    from rag.models.onnx_export import PAD_MULTIPLE

    e = Embedder(backend=backend, cache_dir=cache)
    assert len(e._onnx._tok.encode("x").ids) % PAD_MULTIPLE == 0
    together = e.embed_passages(TEXTS)
    alone = np.vstack([e.embed_passages([t]) for t in TEXTS])
    assert np.sum(together * alone, axis=1).min() >= 0.9999


@pytest.mark.parametrize("backend", LOSSLESS)
def test_lossless_backends_rank_passages_like_torch(backend, torch_embedder, cache, piaf_rag):
    passages = [c.text for c in piaf_rag.current().chunks[:300]]
    queries = ["Quand la bataille a-t-elle eu lieu ?", "Qui a écrit ce livre ?", "Combien d'habitants ?"]

    def top5(e: Embedder) -> np.ndarray:
        return np.argsort(-(e.embed_queries(queries) @ e.embed_passages(passages).T), axis=1)[:, :5]

    got, want = top5(Embedder(backend=backend, cache_dir=cache)), top5(torch_embedder)
    assert np.mean([len(set(x) & set(y)) / 5 for x, y in zip(got, want, strict=True)]) >= 0.9


def test_auto_prefers_openvino_and_exports_once(cache):
    e = Embedder(cache_dir=cache)
    assert e.backend == "openvino"
    (meta,) = list(cache.glob("*/meta.json"))
    stamp = meta.stat().st_mtime_ns
    Embedder(backend="onnx", cache_dir=cache)
    assert meta.stat().st_mtime_ns == stamp  # reused, not exported again
    assert not list(cache.glob(".export-*"))  # no temporary folder left behind


def test_truncated_export_is_made_again(tmp_path, torch_embedder):
    Embedder(backend="onnx", cache_dir=tmp_path)
    (onnx,) = list(tmp_path.glob("*/model.onnx"))
    onnx.write_bytes(onnx.read_bytes()[:1000])  # a disk error or a crash of another tool
    e = Embedder(backend="onnx", cache_dir=tmp_path)
    got, want = e.embed_passages(TEXTS[:2]), torch_embedder.embed_passages(TEXTS[:2])
    assert np.sum(got * want, axis=1).min() >= 0.99999


@pytest.mark.slow
def test_model_with_a_dense_layer_falls_back_to_torch(tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense

    base = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    folder = tmp_path / "with-dense"
    SentenceTransformer(modules=[base[0], base[1], Dense(384, 64)], device="cpu").save(str(folder))
    auto = Embedder(str(folder), cache_dir=tmp_path / "cache")
    assert auto.backend == "torch" and auto.dim == 64
    assert auto.embed_passages(["un texte"]).shape == (1, 64)
    with pytest.raises(ModelNotFoundError, match="Dense"):
        Embedder(str(folder), backend="onnx", cache_dir=tmp_path / "cache")


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown embedding backend 'gpu'.*openvino"):
        Embedder(backend="gpu")  # type: ignore[arg-type]


def test_hub_id_without_a_local_copy_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="local folder"):
        Embedder("someone/not-cached-model", backend="onnx", cache_dir=tmp_path)
