"""Speed of the local LLM engines on the bundled Gemma 3 270M GGUF: time to ready, first token after a
~600-token prompt, and decoding speed, median of a few runs per engine and thread count.

Each engine is loaded in a fresh process (`--child`), so the "ready" time includes importing it, and
the engines never share the machine. The prompt is the start of a seed article; decoding runs
`--tokens` tokens with no stop string (the base model does not stop early on it).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/llm_speed.py [--runs 3] [--json benchmarks/results/llm-speed.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENGINES = [("llama.cpp", 2), ("llama.cpp", 1), ("transformers", 2)]


def _prompt() -> str:
    from rag.ingest.sources import load_sources

    docs, _ = load_sources([ROOT / "sources"])
    doc = max(docs, key=lambda d: len(d.text))
    return f"Passage : {doc.title}\n{doc.text[:2300]}\nRésumé du passage :"


def child(engine: str, threads: int, runs: int, tokens: int) -> dict[str, object]:
    """Load one engine and time it; runs in its own process."""
    started = time.perf_counter()
    from rag.models.llama_cpp import LlamaCppLLM
    from rag.models.llm import LLM, Prompt, TransformersLLM

    llm: LLM
    count: Callable[[str], int]
    if engine == "llama.cpp":
        llama = LlamaCppLLM(threads=threads)
        llm, count = llama, lambda text: len(llama.llama.tokenize(text.encode(), add_bos=False))
    else:
        import torch

        torch.set_num_threads(threads)
        hf = TransformersLLM()
        llm, count = hf, lambda text: len(hf.tokenizer(text, add_special_tokens=False).input_ids)
    ready = time.perf_counter() - started
    prompt = Prompt("", _prompt(), "")
    first, speeds, generated = [], [], []
    stamps: list[float] = []  # when each piece of text arrived
    for _ in range(runs + 1):  # the first run warms up and is not counted
        stamps.clear()
        t0 = time.perf_counter()
        text = llm.generate(prompt, max_tokens=tokens, stop=(), on_token=lambda _: stamps.append(time.perf_counter()))
        n = count(text)
        first.append(stamps[0] - t0)
        speeds.append((n - 1) / (stamps[-1] - stamps[0]))
        generated.append(n)
    return {
        "engine": engine,
        "threads": threads,
        "ready_s": round(ready, 2),
        "prompt_tokens": count(prompt.as_text()),
        "tokens": generated[1:],
        "first_token_s": round(statistics.median(first[1:]), 3),
        "decode_tok_s": round(statistics.median(speeds[1:]), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "THREADS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.runs, args.tokens)))
        return
    rows = []
    for engine, threads in ENGINES:
        cmd = [sys.executable, __file__, "--child", engine, str(threads), "--runs", str(args.runs)]
        done = subprocess.run(cmd + ["--tokens", str(args.tokens)], capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{engine} with {threads} threads failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
