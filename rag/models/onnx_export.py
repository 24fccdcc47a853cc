"""A sentence-transformers model exported once to ONNX (from its local folder, no hub) and run with
onnxruntime or the OpenVINO runtime, without torch: tokenizer, transformer, pooling, normalisation.
Owns the export cache; knows nothing of indexes. Used through `embed.Embedder`."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import ModelNotFoundError

log = logging.getLogger(__name__)

Runtime = Literal["onnxruntime", "openvino"]
Precision = Literal["fp32", "bf16", "int8"]
FORMAT = 1  # bump when the export layout changes: older exports are then made again
# subtle: OpenVINO compiles and keeps kernels for every input shape (batch x tokens) it meets, up to
# 5,000 by default at ~1.5-2 MB each, and every question's sentences make new shapes: the answer
# stage grew the process by ~1 GB over 600 batches. Padding to a multiple of 8 tokens makes far
# fewer shapes (and is faster: fewer compilations); the cap bounds what is kept (BENCHMARKS.md).
PAD_MULTIPLE = 8
RUNTIME_CACHE_SHAPES = 256
_POOLING = ("mean", "cls", "max", "lasttoken")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


class ExportUnsupported(Exception):
    """The model has parts the exported graph does not reproduce (e.g. a Dense layer after pooling)."""


def export_folder(location: str, cache_dir: Path) -> Path:
    """Where the export of the model at `location` lives: named by the folder and a fingerprint of
    its weights, so an updated model gets a new export and never reuses a stale one."""
    src = Path(location)
    h = hashlib.sha256(f"{FORMAT}|{src.resolve()}".encode())
    for p in sorted(src.rglob("*")):
        if p.is_file() and p.suffix in (".safetensors", ".bin", ".json", ".txt"):
            st = p.stat()
            h.update(f"{p.relative_to(src)}|{st.st_size}|{st.st_mtime_ns}".encode())
    name = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in src.name)[:40]
    return cache_dir / f"{name}-{h.hexdigest()[:16]}"


def ensure_export(location: str, folder: Path, *, int8: bool) -> None:
    """Export the model at `location` into `folder` unless already there (and its int8 version
    when `int8`); `OnnxModel(folder, ...)` then loads it.

    The export is written to a temporary folder, checked against the torch model (cosine >= 0.9999
    on sample texts) and only then moved into place, so a crash or a full disk never leaves a
    half-written export that a later run would load.

    Raises:
        ExportUnsupported: the model cannot be reproduced by the exported graph.
        OSError: the cache folder cannot be written.
    """
    if not (folder / "meta.json").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
        try:
            _export(location, tmp)
            try:
                tmp.rename(folder)
            except OSError:
                if not (folder / "meta.json").exists():  # not a concurrent export that won the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    target = folder / "model.int8.onnx"
    if int8 and not target.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        part = folder / f".model.int8.{os.getpid()}.onnx"
        logging.disable(logging.WARNING)  # subtle: the quantiser logs every tensor on the root logger
        try:
            # per-channel unsigned weights: cosine 0.992 to fp32 here, against 0.90 per-tensor signed
            quantize_dynamic(folder / "model.onnx", part, weight_type=QuantType.QUInt8, per_channel=True)
            part.replace(target)
        finally:
            logging.disable(logging.NOTSET)
            part.unlink(missing_ok=True)


def _export(location: str, out: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(location, device="cpu")
    parts: list[Any] = list(st)
    modules = [type(m).__name__ for m in parts]
    if modules not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ExportUnsupported(f"modules {modules}; only Transformer + Pooling (+ Normalize) are exported")
    pooling = parts[1].get_config_dict()
    if pooling.get("pooling_mode") not in _POOLING:
        raise ExportUnsupported(f"pooling mode {pooling.get('pooling_mode')!r}; supported: {_POOLING}")
    model = parts[0].auto_model.eval()
    sample = ["Une phrase en français, avec des accents : élève, garçon.", "A short English one."]
    enc = st.tokenizer(sample, padding=True, return_tensors="pt")
    params = inspect.signature(model.forward).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in enc and (takes_any or n in params)]

    class Wrapped(torch.nn.Module):
        # subtle: transformers 5 rejects positional arguments in traced calls; pass them by name
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, args, strict=True))).last_hidden_state

    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on branches that are constant for this model
        torch.onnx.export(
            Wrapped(),
            tuple(enc[n] for n in names),
            str(out / "model.onnx"),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    for f in _TOKENIZER_FILES:
        if (Path(location) / f).exists():
            shutil.copy2(Path(location) / f, out / f)
    if not (out / "tokenizer.json").exists():
        st.tokenizer.save_pretrained(str(out))  # a slow tokenizer: its fast version writes tokenizer.json
    meta = {
        "format": FORMAT,
        "source": str(location),
        "inputs": names,
        "dim": int(st.get_embedding_dimension() or 0),
        "max_seq_length": int(st.max_seq_length or 512),
        "pooling_mode": pooling["pooling_mode"],
        "include_prompt": bool(pooling.get("include_prompt", True)),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    runner = OnnxModel(out, "onnxruntime", "fp32")
    probe = sample + ["x " * 400, "Qui a fondé Mistral AI ?"]
    got = runner.encode(probe, "", batch_size=4)
    want = st.encode(probe, normalize_embeddings=True, convert_to_numpy=True)
    worst = float(np.min(np.sum(got * want, axis=1)))
    if worst < 0.9999:
        raise ExportUnsupported(f"the exported graph differs from the model (cosine {worst:.5f})")


class OnnxModel:
    """An exported model run by onnxruntime or OpenVINO. Not thread-safe: `Embedder` holds a lock.

    Args:
        folder: an export made by `ensure_export`.
        runtime: "onnxruntime" or "openvino".
        precision: "fp32"; "bf16" lets OpenVINO compute in bf16 where the CPU has it; "int8" runs
            the dynamically quantised graph.
        threads: 0 = the runtime's default (all cores).
    """

    def __init__(self, folder: Path, runtime: Runtime, precision: Precision, *, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ModelNotFoundError(f"{folder} holds an export of another format; delete the folder")
        self.dim: int = meta["dim"]
        self.max_seq_length: int = meta["max_seq_length"]
        self._inputs: list[str] = meta["inputs"]
        self._pooling: str = meta["pooling_mode"]
        self._include_prompt: bool = meta["include_prompt"]
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tok.enable_truncation(max_length=self.max_seq_length)
        pad = self._pad_token(folder)
        self._tok.enable_padding(pad_id=self._tok.token_to_id(pad) or 0, pad_token=pad, pad_to_multiple_of=PAD_MULTIPLE)
        path = folder / ("model.int8.onnx" if precision == "int8" else "model.onnx")
        self._run = _session(path, runtime, precision, threads)

    @staticmethod
    def _pad_token(folder: Path) -> str:
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            p = folder / name
            if p.exists():
                pad = json.loads(p.read_text(encoding="utf-8")).get("pad_token")
                if isinstance(pad, dict):
                    pad = pad.get("content")
                if isinstance(pad, str):
                    return pad
        return "[PAD]"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: Sequence[str], prompt: str, *, batch_size: int) -> np.ndarray:
        """L2-normalised float32 vectors, batched by length (less padding) and returned in input order."""
        inputs = [prompt + t for t in texts]
        skip = 0
        if prompt and not self._include_prompt:
            skip = len(self._tok.encode(prompt).ids) - 1  # the prompt's tokens, after [CLS], before [SEP]
        order = np.argsort([-len(t) for t in inputs], kind="stable")
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            encs = self._tok.encode_batch([inputs[r] for r in rows])
            feed = {
                "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
            }
            hidden = self._run({n: feed[n] for n in self._inputs})
            out[rows] = self._pool(hidden.astype(np.float32), feed["attention_mask"], skip)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _pool(self, hidden: np.ndarray, mask: np.ndarray, skip: int) -> np.ndarray:
        mask = mask.astype(np.float32)
        if skip:
            mask[:, :skip] = 0.0
        if self._pooling == "cls":
            return hidden[:, 0]
        if self._pooling == "lasttoken":
            last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)  # padding is on the right
            return hidden[np.arange(len(hidden)), last]
        if self._pooling == "max":
            return np.where(mask[..., None] > 0, hidden, -1e9).max(axis=1)
        summed = (hidden * mask[..., None]).sum(axis=1)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)


def _session(path: Path, runtime: Runtime, precision: Precision, threads: int) -> Callable[[dict[str, Any]], Any]:
    if runtime == "openvino":
        import openvino as ov

        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "CPU_RUNTIME_CACHE_CAPACITY": RUNTIME_CACHE_SHAPES,
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        compiled = ov.Core().compile_model(str(path), "CPU", config)
        request = compiled.create_infer_request()

        def run_ov(feed: dict[str, Any]) -> Any:
            return request.infer(feed)[0]

        return run_ov
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run_ort(feed: dict[str, Any]) -> Any:
        return session.run(None, feed)[0]

    return run_ort


def cpu_has_bf16() -> bool:
    """True on CPUs with native bf16 arithmetic (AVX512_BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
