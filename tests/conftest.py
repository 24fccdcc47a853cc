"""Shared fixtures: the real bundled embedding model, loaded once per test run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def embedder():
    from rag.embed import Embedder

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


@pytest.fixture
def sources_copy(tmp_path):
    """A writable copy of the seed articles."""
    dst = tmp_path / "sources"
    shutil.copytree(ROOT / "sources", dst)
    return dst
