"""Large-corpus ingestion: builds a ~100k-passage .jsonl corpus by repeating the public eval corpora
(each copy a distinct document), indexes it with `python -m rag index` while sampling the process'
resident memory, kills it with SIGKILL part-way, runs it again and checks that the second run
resumes (embeds only what the first did not stage) and that the finished index is complete.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ingest.py EVAL_DIR [--passages 100000]
       [--kill-at 0.5] [--backend auto] [--json benchmarks/results/ingest.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
CHARS_PER_PASSAGE = 400  # corpus characters per passage with the default chunker (measured: 61 MB -> 153k)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of the passages staged before SIGKILL")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "archive.jsonl"
        docs = _write_corpus(args.eval_dir, corpus, args.passages)
        index = Path(tmp) / "index"
        cmd = [sys.executable, "-m", "rag", "index", str(corpus), "--index", str(index), "--json"]
        cmd += ["--embedding-backend", args.backend]
        _models_rss(args.backend, index / "models")  # makes the ONNX export the index runs will reuse
        models_mb = _models_rss(args.backend, index / "models")  # the loaded model alone, export cached
        print(f"corpus: {docs} documents, {corpus.stat().st_size / 1e6:.0f} MB; models alone {models_mb:.0f} MB")

        first = _run(cmd, kill_when=lambda: _staged(index) >= args.kill_at * args.passages)
        print(f"first run killed after {first['seconds']:.0f} s; peak RSS {first['peak_rss_mb']:.0f} MB")
        second = _run(cmd)
        stats = json.loads(second.pop("stdout"))
        result = {
            "documents": docs,
            "corpus_mb": corpus.stat().st_size / 1e6,
            "backend": stats["embedding_backend"],
            "models_rss_mb": models_mb,
            "killed_run": {k: first[k] for k in ("seconds", "peak_rss_mb")},
            "resumed_run": second,
            "chunks": stats["chunks"],
            "embedded_after_resume": stats["embedded_chunks"],
            "resumed_chunks": stats["resumed_chunks"],
            "passages_per_s_resumed_run": stats["passages_per_second"],
            "peak_rss_beyond_models_mb": max(first["peak_rss_mb"], second["peak_rss_mb"]) - models_mb,
        }
        check = subprocess.run(
            [sys.executable, "-m", "rag", "search", "Qui a fondé la ville ?", "--index", str(index), "--json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        result["search_after_resume_hits"] = len(json.loads(check.stdout))
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


def _write_corpus(eval_dir: Path, out: Path, passages: int) -> int:
    base = []
    for name in ("piaf-fr", "squad-en"):
        with (eval_dir / name / "corpus.jsonl").open(encoding="utf-8") as fh:
            base += [json.loads(line) for line in fh if line.strip()]
    written, estimate = 0, 0.0
    with out.open("w", encoding="utf-8") as fh:
        while estimate < passages:
            d = base[written % len(base)]
            copy = written // len(base)
            doc = {**d, "doc_id": f"{d['doc_id']}~{copy}", "title": f"{d['title']} ({copy})"}
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
            written += 1
            estimate += len(d["text"]) / CHARS_PER_PASSAGE
    return written


def _models_rss(backend: str, cache: Path) -> float:
    code = (
        "import sys, psutil; sys.path.insert(0, '.'); from rag.models.embed import Embedder; "
        f"e = Embedder(backend={backend!r}, cache_dir={str(cache)!r}); e.embed_passages(['x ' * 200] * 16); "
        "print(psutil.Process().memory_info().rss / 2**20)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _staged(index: Path) -> int:
    """Passages staged so far: each shard holds one 256-passage batch (STAGE_BATCH), give or take a document."""
    return 256 * sum(1 for _ in index.glob(".staging/*/shard-*.npz"))


def _run(cmd: list[str], kill_when=None) -> dict:  # type: ignore[no-untyped-def]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0.0
    started = time.perf_counter()
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    p = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, p.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            break
        if kill_when is not None and kill_when():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.2)
    proc.wait()
    reader.join()
    result = {"seconds": time.perf_counter() - started, "peak_rss_mb": peak, "returncode": proc.returncode}
    if kill_when is None:
        if proc.returncode != 0:
            raise SystemExit(f"index run failed ({proc.returncode})")
        result["stdout"] = out[0]
    return result


if __name__ == "__main__":
    main()
