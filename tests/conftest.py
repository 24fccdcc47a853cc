"""Shared fixtures (the real bundled models, loaded once per test run) and the two tiers: a test
that uses a model, a server or a browser is marked `slow`; `pytest -m "not slow"` runs the rest and
fails if any of them loaded a model runtime."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
# Fixtures that load a model or start a process: a test using any of them is slow.
HEAVY_FIXTURES = frozenset(
    """embedder seed_rag piaf_rag squad_rag seed_rag_any piaf_rag_any squad_rag_any local_llm openai_server
    app app_url page torch_embedder cache evil_rag reranker""".split()
)
# What the fast tier must never import: the model runtimes.
MODEL_RUNTIMES = ("torch", "transformers", "sentence_transformers", "llama_cpp", "onnxruntime", "openvino")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    if session.config.getoption("markexpr") == "not slow":
        loaded = [m for m in MODEL_RUNTIMES if m in sys.modules]
        if loaded:
            print(f"\nthe fast tier imported {loaded}: mark the test that loads a model as slow", file=sys.stderr)
            session.exitstatus = 1


@pytest.fixture(scope="session")
def embedder():
    from rag.models.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def seed_rag(tmp_path_factory, embedder):
    """An index of the bundled seed articles (sources/), built once."""
    from rag.pipeline import RAG

    rag = RAG(tmp_path_factory.mktemp("seed-index"), embedder=embedder)
    rag.index([ROOT / "sources"])
    return rag


@pytest.fixture(scope="session")
def piaf_rag(tmp_path_factory, embedder):
    from rag.pipeline import RAG

    rag = RAG(tmp_path_factory.mktemp("piaf-index"), embedder=embedder)
    rag.index([DATA / "piaf-fr" / "corpus.jsonl"])
    return rag


@pytest.fixture(scope="session")
def squad_rag(tmp_path_factory, embedder):
    from rag.pipeline import RAG

    rag = RAG(tmp_path_factory.mktemp("squad-index"), embedder=embedder)
    rag.index([DATA / "squad-en" / "corpus.jsonl"])
    return rag


def reconfigured(rag, **changes):
    """Another session over `rag`'s index and model with some settings changed (configs are fixed
    for a session's life)."""
    from rag.pipeline import RAG

    return RAG(rag.index_dir, config=rag.config.with_(**changes), embedder=rag.embedder)


def all_passages(index):
    """Every live passage of a local or Milvus index, document by document."""
    return [c for d in index.indexed_documents() for c in index.passages_of(d.doc_id)]


STORES = ["flat", "milvus"]


@pytest.fixture(scope="session", params=STORES)
def store(request):
    """Where the index lives: the index folder with FAISS (flat), or real Milvus Lite (the
    system of record: passages, vectors, terms and documents in its collections)."""
    return request.param


def with_store(rag, sources, store, tmp_path_factory):
    """`rag` itself for FAISS; else a copy of its index moved into Milvus Lite (no re-embedding)."""
    from rag.pipeline import RAG

    if store == "flat":
        return rag
    folder = tmp_path_factory.mktemp(f"{store}-index") / "idx"
    shutil.copytree(rag.index_dir, folder)
    other = RAG(folder, embedder=rag.embedder)
    other.index([sources], store=store)
    assert other.current().manifest.store == store
    return other


@pytest.fixture(scope="session")
def seed_rag_any(seed_rag, store, tmp_path_factory):
    return with_store(seed_rag, ROOT / "sources", store, tmp_path_factory)


@pytest.fixture(scope="session")
def piaf_rag_any(piaf_rag, store, tmp_path_factory):
    return with_store(piaf_rag, DATA / "piaf-fr" / "corpus.jsonl", store, tmp_path_factory)


@pytest.fixture(scope="session")
def squad_rag_any(squad_rag, store, tmp_path_factory):
    return with_store(squad_rag, DATA / "squad-en" / "corpus.jsonl", store, tmp_path_factory)


@pytest.fixture
def sources_copy(tmp_path):
    """A writable copy of the seed articles."""
    dst = tmp_path / "sources"
    shutil.copytree(ROOT / "sources", dst)
    return dst


@pytest.fixture(scope="session", params=["transformers", "llama.cpp"])
def local_llm(request):
    """The bundled Gemma 3 270M through each local engine (the GGUF conversion is cached)."""
    from rag.models.llama_cpp import LlamaCppLLM
    from rag.models.llm import TransformersLLM

    return TransformersLLM() if request.param == "transformers" else LlamaCppLLM(threads=2)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(cmd: list[str], port: int, log_path: Path, *, timeout: float = 180, env: dict[str, str] | None = None):
    """Run a server process (with `env` added to the environment) until it accepts connections on
    `port`; stop it afterwards."""
    import socket
    import subprocess
    import time

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"{cmd[:3]} exited: {log_path.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"{cmd[:3]} did not listen on port {port} within {timeout} s")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.5)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory):
    """A real OpenAI-compatible server: llama-cpp-python's, serving the bundled GGUF on loopback."""
    import sys

    from rag.models.llm import default_cache_dir, resolve_llm

    folder, gguf = resolve_llm("", default_cache_dir())
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(Path(folder) / gguf), "--host", "127.0.0.1"]
    # --logits_all false: the server's default runs the 262k-word output layer on every prompt token.
    cmd += ["--port", str(port), "--n_threads", "2", "--model_alias", "gemma", "--logits_all", "false"]
    with serve(cmd, port, tmp_path_factory.mktemp("llama-server") / "server.log"):
        yield f"http://127.0.0.1:{port}/v1"
