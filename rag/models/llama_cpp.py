"""The llama.cpp engine (GGUF models, through `llama-cpp-python`, ~3x transformers' decoding here)
and the choice of engine for the local answerer (`load_llm`): llama.cpp when it is installed and
runs on this CPU (checked in a child process), else transformers. Knows nothing about passages."""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import LLMEngine
from ..errors import LLMUnavailableError, ModelNotFoundError
from .llm import LLM, Prompt, TokenCallback, TransformersLLM, default_cache_dir, resolve_llm

log = logging.getLogger(__name__)


class LlamaCppLLM:
    """llama.cpp through `llama-cpp-python` (GGUF only): ~3x transformers' decoding here. Fewer
    threads per answer keep it fast when several users ask at once."""

    def __init__(self, model: str = "", *, cache_dir: Path | None = None, threads: int = 0) -> None:
        from llama_cpp import Llama

        folder, gguf = resolve_llm(model, cache_dir or default_cache_dir())
        if not gguf:
            raise ValueError(f"llama.cpp needs a .gguf model; {model!r} is not one (use --llm-engine transformers)")
        self.llama = Llama(
            model_path=str(Path(folder) / gguf), n_ctx=4096, n_threads=threads or os.cpu_count() or 1, verbose=False
        )
        self.name = f"llama.cpp:{Path(gguf).stem}"
        self._lock = threading.Lock()

    def generate(
        self, prompt: Prompt, *, max_tokens: int, stop: Sequence[str], on_token: TokenCallback | None = None
    ) -> str:
        pieces = []
        with self._lock:
            # Forget the previous prompt: reusing its cached prefix evaluates the prompt in other
            # batches, and the rounding differences change greedy answers with what was asked before.
            self.llama.reset()
            stream: Any = self.llama.create_completion(
                prompt.as_text(), max_tokens=max_tokens, stop=list(stop), temperature=0.0, stream=True
            )
            for part in stream:
                piece = part["choices"][0]["text"]
                if piece:
                    pieces.append(piece)
                    if on_token:
                        on_token(piece)
        return "".join(pieces)


def llama_cpp_available() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


# Loads the model and decodes one token: the compute kernels are where a build for another CPU dies.
_PROBE = (
    "import sys, llama_cpp\n"
    "m = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_threads=1, verbose=False)\n"
    "m.create_completion('Bonjour', max_tokens=1, temperature=0.0)\n"
)
REBUILD_LLAMA_CPP = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir llama-cpp-python[server]==0.3.36'
)


@functools.cache
def llama_cpp_problem(gguf: str, *, python: str = sys.executable) -> str | None:
    """Why llama.cpp cannot run `gguf` on this machine, or None when it decoded a token.

    The check runs in a child process (~1-2 s, once per process and model): a llama-cpp-python build
    made for another CPU dies with SIGILL, which kills the process and cannot be caught in it.
    """
    try:
        done = subprocess.run([python, "-c", _PROBE, gguf], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the llama.cpp check could not run ({exc})"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        try:
            died = f"died with {signal.Signals(-done.returncode).name}"
        except ValueError:
            died = f"died with signal {-done.returncode}"
        hint = " (its build uses CPU instructions this machine refuses)" if done.returncode == -signal.SIGILL else ""
        return f"llama.cpp {died} loading {gguf}{hint}; rebuild it with {REBUILD_LLAMA_CPP}"
    last = (done.stderr.strip().splitlines() or ["no message"])[-1]
    return f"llama.cpp failed loading {gguf} (exit {done.returncode}: {last[:300]})"


def load_llm(model: str = "", *, engine: LLMEngine = "auto", cache_dir: Path | None = None, threads: int = 0) -> LLM:
    """The local model: llama.cpp when installed and the model is a GGUF ("auto"), else transformers."""
    if engine not in ("auto", "transformers", "llama.cpp"):
        raise ValueError(f"unknown LLM engine {engine!r}; valid engines are 'auto', 'transformers', 'llama.cpp'")
    cache_dir = cache_dir or default_cache_dir()
    if engine == "llama.cpp" or (engine == "auto" and llama_cpp_available()):
        # subtle: resolve once; for the bundled model it assembles and hashes a 250 MB file.
        folder, gguf = resolve_llm(model, cache_dir)
        if gguf is not None or engine == "llama.cpp":
            if not llama_cpp_available():
                raise ModelNotFoundError("the llama.cpp engine needs `pip install llama-cpp-python`")
            path = str(Path(folder) / gguf) if gguf else model
            problem = llama_cpp_problem(path) if gguf else None
            if problem is None:
                return LlamaCppLLM(path, cache_dir=cache_dir, threads=threads)
            if engine == "llama.cpp":
                raise LLMUnavailableError(f"{problem}, or use --llm-engine transformers")
            log.warning("answering with transformers instead: %s", problem)
    return TransformersLLM(model, cache_dir=cache_dir)
