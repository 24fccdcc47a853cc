from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from rag.cli import main

from .conftest import DATA, ROOT


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _run(*args, check=True) -> Ran:
    """`rag ARGS...` in this process (the same `main` the console script calls), as a subprocess
    would report it: exit code, standard output and error."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(ROOT):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refuses an option
            code = exc.code if isinstance(exc.code, int) else 1
    ran = Ran(code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"rag {' '.join(args)} exited {code}: {ran.stderr[-2000:]}")
    return ran


@pytest.mark.slow
def test_index_then_search_and_ask_as_json(tmp_path):
    corpus = DATA / "piaf-fr" / "corpus.jsonl"
    out = _run("index", str(corpus), "--index", str(tmp_path / "x"))
    assert "8 documents" in out.stdout and "embedded" in out.stdout
    again = _run("index", str(corpus), "--index", str(tmp_path / "x"))
    assert "embedded 0 chunks" in again.stdout

    q = json.loads((DATA / "piaf-fr" / "questions.jsonl").read_text(encoding="utf-8").splitlines()[0])
    hits = json.loads(_run("search", q["question"], "--index", str(tmp_path / "x"), "--json", "-k", "3").stdout)
    ids = {json.loads(line)["doc_id"] for line in corpus.read_text(encoding="utf-8").splitlines()}
    assert len(hits) == 3 and all(h["chunk"]["doc_id"] in ids for h in hits)
    assert all(h["rerank_score"] is not None for h in hits)  # reranked by default
    plain = _run("search", q["question"], "--index", str(tmp_path / "x"), "--json", "--no-rerank")
    assert all(h["rerank_score"] is None and h["retrieval_score"] is None for h in json.loads(plain.stdout))

    ans = _run("ask", q["question"], "--index", str(tmp_path / "x"), "--json")
    assert "\\u00" not in ans.stdout  # UTF-8, not ASCII-escaped
    a = json.loads(ans.stdout)
    assert set(a) >= {"text", "answered", "citations", "passages"}


def test_errors_are_messages_not_tracebacks(tmp_path):
    r = _run("search", "x", "--index", str(tmp_path / "missing"), check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no index in" in r.stderr and "rag index" in r.stderr
    bad = _run("ask", "x", "--min-support", "strict", check=False)
    assert bad.returncode == 2 and "'strict' is not a number between 0 and 1" in bad.stderr
    bad = _run("eval", "--corpus", "c", "--questions", "q", "--checkpoint-every", "0", check=False)
    assert bad.returncode == 2 and "'0' is not a positive whole number" in bad.stderr
    bad = _run("search", "x", "--rerank-cache-mb", "-5", check=False)
    assert bad.returncode == 2 and "'-5' is not a whole number of megabytes" in bad.stderr


@pytest.mark.slow
def test_chunk_size_is_chosen_when_indexing_and_kept_by_the_index(tmp_path):
    from rag.storage.manifest import Manifest

    def chunk_chars() -> int:
        version = (tmp_path / "x" / "CURRENT").read_text().strip()
        return Manifest.read(tmp_path / "x" / version / "manifest.json").chunker["chunk_chars"]

    sources, index = str(ROOT / "sources"), ("--index", str(tmp_path / "x"))
    small = json.loads(_run("index", sources, *index, "--chunk-chars", "300", "--json").stdout)
    assert chunk_chars() == 300
    again = json.loads(_run("index", sources, *index, "--json").stdout)  # the index's own size
    assert again["embedded_chunks"] == 0 and again["chunks"] == small["chunks"]

    other = _run("index", sources, *index, "--chunk-chars", "900", check=False)
    assert other.returncode == 1 and "--rebuild" in other.stderr and "Traceback" not in other.stderr
    assert chunk_chars() == 300 and _run("search", "Naveen Rao", *index, "--no-rerank").returncode == 0
    large = json.loads(_run("index", sources, *index, "--chunk-chars", "900", "--rebuild", "--json").stdout)
    assert chunk_chars() == 900 and large["chunks"] < small["chunks"]

    bad = _run("index", sources, *index, "--chunk-chars", "12", check=False)
    assert bad.returncode == 2 and "'12' is not a chunk size in characters" in bad.stderr


def test_rerank_memory_is_set_from_the_command_line_or_the_environment(monkeypatch):
    from rag.cli import _parser
    from rag.cli.options import rerank_settings
    from rag.config import Config

    args = _parser().parse_args(["search", "x", "--rerank-cache-mb", "0"])
    assert rerank_settings(args)["rerank_cache_mb"] == 0
    monkeypatch.setenv("RAG_RERANK_CACHE_MB", "64")
    assert rerank_settings(_parser().parse_args(["ask", "x"]))["rerank_cache_mb"] == 64
    monkeypatch.delenv("RAG_RERANK_CACHE_MB")
    assert rerank_settings(_parser().parse_args(["chat"]))["rerank_cache_mb"] == Config.rerank_cache_mb


@pytest.mark.slow
def test_eval_command_prints_metrics(tmp_path):
    r = _run(
        "eval",
        "--corpus",
        str(DATA / "squad-en" / "corpus.jsonl"),
        "--questions",
        str(DATA / "squad-en" / "questions.jsonl"),
        "--limit",
        "10",
        "--cache",
        str(tmp_path / "c"),
        "--output",
        str(tmp_path / "out.json"),
        "--checkpoint-every",
        "3",
    )
    for metric in ("recall@5", "mrr@10", "top5_chars", "hit_rate", "citation_precision", "retrieval_ms_p50"):
        assert metric in r.stdout
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["questions"] == 10 and out["complete"] is True and "stage" not in out
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["out.json"]  # no temporary file left


@pytest.mark.slow
def test_ask_streams_a_local_answer_and_chat_follows_up(tmp_path):
    idx = str(tmp_path / "seeds")
    _run("index", str(ROOT / "sources"), "--index", idx)
    out = _run(
        "ask",
        "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?",
        "--index",
        idx,
        "--answerer",
        "local",
        "--llm-engine",
        "llama.cpp",
        "--stream",
    )
    draft, _, verified = out.stdout.partition("\n\n")
    assert draft.strip() and verified.strip(), out.stdout  # the streamed draft, then the verified answer

    first = "Quelle entreprise a annoncé la plus grande levée de fonds jamais réalisée par une entreprise tech ?"
    chat = subprocess.run(
        [sys.executable, "-m", "rag", "chat", "--index", idx],
        input=f"{first}\nQuel âge a cette société ?\n",
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    assert "11 ans" in chat.stdout, chat.stdout  # the follow-up, answered through the conversation
    assert "11 ans" not in _run("ask", first, "--index", idx).stdout


@pytest.mark.slow
def test_openai_answerer_unreachable_is_a_clear_cli_error(tmp_path):
    idx = str(tmp_path / "seeds")
    _run("index", str(ROOT / "sources"), "--index", idx)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_OPENAI_API_KEY": "sk-cli-secret"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rag",
            "ask",
            "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?",
            "--index",
            idx,
            "--answerer",
            "openai",
            "--openai-base-url",
            "http://127.0.0.1:9/v1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 1 and "cannot reach the OpenAI-compatible server" in out.stderr
    assert "Traceback" not in out.stderr and "sk-cli-secret" not in out.stderr + out.stdout


@pytest.mark.slow
def test_embedding_backend_option_is_used_and_checked(tmp_path):
    corpus = DATA / "piaf-fr" / "corpus.jsonl"
    stats = json.loads(
        _run("index", str(corpus), "--index", str(tmp_path / "x"), "--embedding-backend", "onnx", "--json").stdout
    )
    assert stats["embedding_backend"] == "onnx" and stats["embedded_chunks"] > 0
    assert list((tmp_path / "x" / "models").glob("*/model.onnx"))  # the export is cached beside the index
    torch_hits = _run(
        "search", "Qui a fondé la ville ?", "--index", str(tmp_path / "x"), "--json", "--embedding-backend", "torch"
    )
    onnx_hits = _run("search", "Qui a fondé la ville ?", "--index", str(tmp_path / "x"), "--json")
    ids = [[h["chunk"]["chunk_id"] for h in json.loads(r.stdout)] for r in (torch_hits, onnx_hits)]
    assert ids[0] == ids[1]
    bad = _run("ask", "x", "--index", str(tmp_path / "x"), "--embedding-backend", "cuda", check=False)
    assert bad.returncode == 2 and "openvino" in bad.stderr and "Traceback" not in bad.stderr


def test_an_answer_no_passage_verifies_is_printed_with_the_passages_consulted(capsys):
    from rag.cli.commands import print_answer
    from rag.records import Answer, Chunk, Hit

    hit = Hit(Chunk("a.md#0", "a.md", "Castors", "Les castors vivent en familles.", 0, 31), 0.9, 1)
    print_answer(Answer("q", "Inventé.", True, passages=(hit,), unsupported=("Inventé.",)))
    out = capsys.readouterr().out
    assert "(unsupported by the sources) Inventé." in out
    assert "Passages consulted (none verifies the answer):" in out and "Les castors vivent" in out
    print_answer(Answer("q", "Non.", False, passages=(hit,), support=0.21))
    assert "Related passages (not an answer; support 0.21, see --min-support):" in capsys.readouterr().out


def test_a_close_call_is_printed_after_the_citations(capsys):
    from dataclasses import replace

    from rag.cli.commands import print_answer
    from rag.records import Answer, Chunk, Citation, Hit

    cited = Hit(Chunk("a.md#0", "a.md", "Castors", "Les castors vivent en familles.", 0, 31), 1.0, 1)
    other = Hit(Chunk("b.md#0", "b.md", "Loutres", "Les loutres aussi.", 0, 18), 0.95, 2)
    citation = Citation(1, "a.md", "Castors", "a.md", "", "Les castors vivent en familles.", 0, 31, 0.5, "a.md#0")
    answer = Answer("q", "Les castors vivent en familles. [1]", True, (citation,), (cited, other))
    print_answer(answer)
    assert "Also check" not in capsys.readouterr().out
    print_answer(replace(answer, close_passages=("b.md#0",)))
    out = capsys.readouterr().out
    assert out.index("[1] Castors") < out.index("Also check") < out.index("Loutres (b.md): Les loutres aussi.")


@pytest.mark.slow
def test_index_adds_sync_removes_and_list_remove_work_from_the_cli(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "castors.md").write_text("# Castors\n\nLes castors construisent des barrages.", encoding="utf-8")
    (folder / "loutres.md").write_text("# Loutres\n\nLes loutres de mer dorment sur le dos.", encoding="utf-8")
    extra = tmp_path / "a.md"
    extra.write_text("# Hérons\n\nLe héron cendré pêche à l'affût.", encoding="utf-8")
    idx = ["--index", str(tmp_path / "idx")]
    _run("index", str(folder), *idx)
    added = json.loads(_run("index", str(extra), *idx, "--json").stdout)
    assert (added["added"], added["removed"], added["documents"]) == (1, 0, 3)
    listed = json.loads(_run("list", *idx, "--json").stdout)
    assert [d["doc_id"] for d in listed] == ["castors.md", "loutres.md", "a.md"]
    assert listed[2]["title"] == "Hérons" and listed[2]["chunks"] == 1 and listed[2]["indexed"]
    table = _run("list", *idx)
    assert "castors.md" in table.stdout and "Hérons" in table.stdout and "3 articles" in table.stderr

    unknown = _run("remove", "nope.md", *idx, check=False)
    assert unknown.returncode == 1 and "no document 'nope.md'" in unknown.stderr and "rag list" in unknown.stderr
    removed = _run("remove", "loutres.md", *idx)
    assert "removed loutres.md" in removed.stdout
    assert [d["doc_id"] for d in json.loads(_run("list", *idx, "--json").stdout)] == ["castors.md", "a.md"]

    synced = _run("index", str(folder), "--sync", *idx)
    assert "removed a.md" in synced.stderr and "1 added" in synced.stdout  # loutres.md is back, a.md goes
    assert [d["doc_id"] for d in json.loads(_run("list", *idx, "--json").stdout)] == ["castors.md", "loutres.md"]


def test_list_and_remove_without_an_index_say_how_to_build_one(tmp_path):
    for command in (["list"], ["remove", "x.md"]):
        r = _run(*command, "--index", str(tmp_path / "none"), check=False)
        assert r.returncode == 1 and "no index in" in r.stderr and "rag index PATH" in r.stderr


def test_help_has_examples_and_every_option_has_help(capsys):
    from rag.cli import _parser

    parser = _parser()
    top = parser.format_help()
    assert "examples:" in top and "rag index articles/ --sync" in top and "rag remove" in top
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) >= {"index", "list", "remove", "search", "ask", "chat", "eval"}
    for name, sub in commands.items():
        for action in sub._actions:
            assert action.help, f"rag {name} {'/'.join(action.option_strings) or action.dest} has no help"
        assert any("--json" in a.option_strings for a in sub._actions), f"rag {name} has no --json"
    version = _run("--version", check=False)
    assert version.returncode == 0 and version.stdout.startswith("rag ")


@pytest.mark.slow
def test_chat_reads_lines_until_exit_and_prints_json_lines(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "castors.md").write_text("# Castors\n\nLes castors construisent des barrages en bois.", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_RERANK": "0"}
    _run("index", str(folder), "--index", str(tmp_path / "idx"))
    r = subprocess.run(
        [sys.executable, "-m", "rag", "chat", "--index", str(tmp_path / "idx"), "--json"],
        input="Que construisent les castors ?\nexit\nQue mangent les castors ?\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == 1, "nothing is asked after exit"
    assert lines[0]["answered"] and "barrages" in lines[0]["citations"][0]["quote"]


@pytest.mark.slow
def test_a_question_that_is_not_valid_text_is_answered_from_the_cli(tmp_path):
    """Bytes that are not UTF-8 on the command line reach Python as lone surrogates."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "castors.md").write_text("# Castors\n\nLes castors construisent des barrages.", encoding="utf-8")
    _run("index", str(folder), "--index", str(tmp_path / "idx"))
    r = subprocess.run(
        [sys.executable, "-m", "rag", "ask", b"Que construisent les castors \xff ?", "--index", str(tmp_path / "idx")],
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "RAG_RERANK": "0"},
        timeout=600,
    )
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    assert "barrages" in r.stdout.decode("utf-8")
