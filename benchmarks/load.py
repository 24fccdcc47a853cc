"""Load test: 16 concurrent conversations drive the running app through gradio_client for 60 seconds
(loopback only), then the app keeps answering until 1,000 questions in all.

Checks, per request: no failure, the answer is for the question asked (`answer["question"]`), and a
follow-up is completed only from its own conversation (`answer["query"]` names no other conversation's
question). Reports p50/p95 latency, throughput and the app's resident memory after 100 and after 1,000
questions.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/load.py [--unique] [--json benchmarks/results/load.json]
(starts `app.py` on a free loopback port with a copy of sources/ and a fresh index).

The app remembers the reranking of the last few thousand questions, so the 16 conversations, asked
again and again, pay the reranking model only on their first round. `--unique` appends a number to
every question ("Qui est Naveen Rao ? (3.12)") so that each one is reranked: the cost of questions
the app has not seen.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
# Each conversation: a question, then a follow-up that depends on it.
CONVERSATIONS = [
    ("Qui Google a-t-il fait revenir dans l’entreprise ?", "Combien a-t-il payé pour cela ?"),
    ("Qui est Naveen Rao ?", "Quelle startup a-t-il vendue à Databricks ?"),
    ("Combien d’argent Databricks a-t-elle levé ?", "À quoi servira cet argent ?"),
    ("Qui est le fondateur de Character.ai ?", "Combien a-t-il gagné grâce à l’accord ?"),
    ("Qu’a répondu l’ingénieur de Meta au PDG de Perplexity ?", "Qui fabrique ces puces ?"),
    ("Combien de chercheurs sont capables de construire des modèles pionniers ?", "Et à qui Rao les compare-t-il ?"),
    ("Quel PDG a appelé personnellement un travailleur pour le recruter ?", "De quelle entreprise est-il le PDG ?"),
    ("Where does the former Nervana employee work now?", "How does Rao describe him?"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(work: Path, concurrency: int) -> tuple[subprocess.Popen, str]:
    shutil.copytree(ROOT / "sources", work / "sources")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--index", str(work / "index")]
    cmd += ["--concurrency", str(concurrency)]
    proc = subprocess.Popen(cmd + ["--sources", str(work / "sources")], env=env, stdout=subprocess.DEVNULL)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the app did not start")


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.wrong_question = 0
        self.leaks = 0
        self.rss: dict[int, float] = {}


def conversation(url: str, i: int, stats: Stats, stop: threading.Event, limit: int, app_pid: int, unique: bool) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    own = CONVERSATIONS[i % len(CONVERSATIONS)]
    others = {q for c in CONVERSATIONS if c != own for q in c}
    rounds = 0
    while not stop.is_set():
        first, follow = own
        rounds += 1
        if unique:
            first, follow = f"{first} ({i}.{rounds})", f"{follow} ({i}.{rounds})"
        history: list[dict[str, str]] = []
        for question in (first, follow):
            t = time.perf_counter()
            try:
                answer = client.predict(question, 5, "", history, api_name="/ask")
            except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                with stats.lock:
                    stats.failures.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            elapsed = time.perf_counter() - t
            with stats.lock:
                stats.latencies.append(elapsed)
                n = len(stats.latencies)
                stats.wrong_question += answer["question"] != question
                stats.leaks += any(q in answer["query"] for q in others)
                if n in (100, limit):
                    stats.rss[n] = psutil.Process(app_pid).memory_info().rss / 1e6
                if n >= limit:
                    stop.set()
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer["text"]}]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", help="a running app (default: start one)")
    p.add_argument("--users", type=int, default=16)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=2, help="the started app's --concurrency")
    p.add_argument("--unique", action="store_true", help="make every question new to the app (see above)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_app(Path(tmp), args.concurrency) if not args.url else (None, args.url)
        pid = proc.pid if proc else int(os.environ["APP_PID"])
        try:
            stats = Stats()
            stop = threading.Event()
            threads = [
                threading.Thread(target=conversation, args=(url, i, stats, stop, args.questions, pid, args.unique))
                for i in range(args.users)
            ]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            time.sleep(args.seconds)
            window = {"questions": len(stats.latencies), "failures": len(stats.failures)}
            window_latencies = sorted(stats.latencies)
            for t in threads:
                t.join()
            total = time.perf_counter() - t0
        finally:
            if proc:
                proc.terminate()
                proc.wait(timeout=30)
    lat = sorted(stats.latencies)
    result = {
        "users": args.users,
        "unique_questions": args.unique,
        "first_window_s": args.seconds,
        "questions_in_window": window["questions"],
        "failures_in_window": window["failures"],
        "window_latency_s_p50": round(statistics.median(window_latencies), 3),
        "window_latency_s_p95": round(window_latencies[int(0.95 * (len(window_latencies) - 1))], 3),
        "questions": len(lat),
        "failures": len(stats.failures),
        "failure_examples": stats.failures[:5],
        "answers_to_the_wrong_question": stats.wrong_question,
        "history_leaks": stats.leaks,
        "latency_s_p50": round(statistics.median(lat), 3),
        "latency_s_p95": round(lat[int(0.95 * (len(lat) - 1))], 3),
        "questions_per_s": round(len(lat) / total, 2),
        "rss_mb_after_100": round(stats.rss.get(100, 0)),
        f"rss_mb_after_{args.questions}": round(stats.rss.get(args.questions, 0)),
    }
    if stats.rss.get(100) and stats.rss.get(args.questions):
        result["rss_growth"] = round(stats.rss[args.questions] / stats.rss[100] - 1, 4)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
