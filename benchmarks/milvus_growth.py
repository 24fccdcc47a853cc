"""What a serving process costs when the index is held in Milvus, at 10k, 100k and 1M passages:
start-up time, resident memory and hybrid search latency of a fresh process that has no index
folder, only the Milvus URI; and the time, memory and rows written to add one article with
`rag index`.

Milvus Lite runs as its own server process (`milvus-lite server`), as a Milvus server would, so the
serving process is measured apart from it (the server's memory is reported separately). The corpus
is `local_growth.py`'s (real passages, MiniLM vectors and stems, copied to size), written as a
local index and moved into Milvus with the same code as `rag migrate` (its time is reported as
`migrate_s`).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/milvus_growth.py [--sizes 10000 100000 1000000]
       [--work /tmp/rag-milvus-growth] [--repeat 3] [--json benchmarks/results/milvus_growth.json]
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from local_growth import ARTICLES, QUERIES, START, base_index, grown, medians, options, peak_rss

from rag.config import Config
from rag.pipeline import RAG
from rag.storage import index as index_io
from rag.storage.milvus import close

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`milvus-lite server` on a free port; returns the process and its URI once it answers."""
    port = free_port()
    exe = Path(sys.executable).with_name("milvus-lite")
    server = subprocess.Popen(
        [str(exe), "server", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, uri
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("milvus-lite server did not start")


def measure(uri: str, name: str, work: Path, repeat: int, env: dict[str, str], server: int) -> dict[str, object]:
    absent = work / "serving-has-no-folder"
    starts = []
    for _ in range(repeat):
        cmd = [sys.executable, "-c", START, str(absent), QUERIES[0], json.dumps(QUERIES), uri, name]
        wall, _, out = peak_rss(cmd, env)
        starts.append({**json.loads(out), "wall_s": wall})
    adds = []
    for i in range(repeat):
        article = work / f"added-{name}-{i}.md"
        shutil.copyfile(ARTICLES[i % len(ARTICLES)], article)
        cmd = [sys.executable, "-m", "rag", "index", str(article), "--index", str(work / "scratch")]
        cmd += ["--milvus-uri", uri, "--milvus-collection", name, "--json"]
        wall, peak, out = peak_rss(cmd, env)
        stats = json.loads(out)
        adds.append({"wall_s": wall, "peak_rss_mb": peak, "rows": stats["written_rows"], "added": stats["added"]})
    return {
        **medians(starts, adds),
        "add_one_article_rows": [a["rows"] for a in adds],
        "milvus_server_rss_mb": psutil.Process(server).memory_info().rss / 1e6,
        "serving_folder_holds": sorted(p.name for p in absent.iterdir()) if absent.exists() else [],
    }


def main() -> None:
    args = options(__doc__, "/tmp/rag-milvus-growth", "milvus_growth.json")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    base = base_index(args.work)
    config = Config(rerank=False)
    results = []
    for n in args.sizes:
        data = args.work / f"milvus-{n}"
        shutil.rmtree(data, ignore_errors=True)
        server, uri = start_server(data)
        try:
            local = args.work / f"local-{n}"
            shutil.rmtree(local, ignore_errors=True)
            index_io.save(local, grown(base, n, config))
            name = f"n{n}"
            t = time.perf_counter()
            moved = RAG(local, config=config.with_(milvus_uri=uri, milvus_collection=name)).index([], store="milvus")
            migrate_s = time.perf_counter() - t
            shutil.rmtree(local, ignore_errors=True)
            row = {
                "size": n,
                "migrate_s": migrate_s,
                "migrate_rows": moved.written_rows,
                **measure(uri, name, args.work, args.repeat, env, server.pid),
            }
            print(json.dumps(row), flush=True)
            results.append(row)
        finally:
            close(uri)
            server.kill()
            server.wait()
            shutil.rmtree(data, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"base_passages": len(base.chunks), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
