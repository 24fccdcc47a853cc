"""How well each language detector reads short questions: accuracy on the labelled set
`tests/data/languages.jsonl` (overall and per kind: questions, keyword queries, names-heavy,
mixed-language, general news), on the public sets' questions (all French in piaf-fr, all English
in squad-en), and what each costs: load time and resident memory in a fresh process, and time
per question.

Detectors: `rag.text.lang.detect_lang` (the product's), the stop-word rule alone (the evidence it
falls back on when the classifier is unsure), py3langid alone, and lingua-language-detector when
installed (`pip install lingua-language-detector`; not a dependency), each restricted to French
and English.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/languages.py ../shared/eval --json benchmarks/results/languages.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "data" / "languages.jsonl"

# Each detector: code run in a fresh process to load it (timed and measured), then `detect(text)`.
LOADERS = {
    "rag detect_lang (product)": """
from rag.text.lang import detect_lang
detect_lang("bonjour")
detect = detect_lang
""",
    "stop words alone (fallback)": """
from rag.text.lang import stop_word_evidence
def detect(t):
    e = stop_word_evidence(t)
    return "fr" if e >= 0 else "en"   # ties go to French, the default
""",
    "py3langid alone": """
from py3langid.langid import MODEL_FILE, LanguageIdentifier
ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
ident.set_languages(["fr", "en"])
def detect(t):
    return ident.classify(t)[0]
""",
    "lingua-language-detector": """
from lingua import Language, LanguageDetectorBuilder
det = LanguageDetectorBuilder.from_languages(Language.FRENCH, Language.ENGLISH).build()
det.detect_language_of("bonjour")
def detect(t):
    return {Language.ENGLISH: "en"}.get(det.detect_language_of(t), "fr")
""",
}

CHILD = """
import json, sys, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
import numpy, rag.text.terms  # what the product has loaded anyway
before, t = rss(), time.perf_counter()
exec(sys.argv[1])
load_s, load_mb = time.perf_counter() - t, rss() - before
rows = json.loads(sys.stdin.read())
t = time.perf_counter()
out = [detect(r) for r in rows]
per_ms = (time.perf_counter() - t) / max(len(rows), 1) * 1000
print(json.dumps({"load_s": load_s, "load_mb": load_mb, "per_question_ms": per_ms, "labels": out}))
"""


def run(loader: str, texts: list[str]) -> dict[str, Any] | None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, loader], input=json.dumps(texts), capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        if "ModuleNotFoundError" in proc.stderr:
            return None
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def accuracy(labels: list[str], rows: list[dict[str, str]], keep: Callable[[dict[str, str]], bool]) -> float:
    pairs = [(lab, r["lang"]) for lab, r in zip(labels, rows, strict=True) if keep(r)]
    return sum(a == b for a, b in pairs) / len(pairs)


def _of_kind(kind: str | None) -> Callable[[dict[str, str]], bool]:
    """Rows of one kind (None: every row)."""
    return lambda r: kind is None or r["kind"] == kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", type=Path, help="folder holding piaf-fr/ and squad-en/")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    labelled = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    public = [
        {"text": json.loads(line)["question"], "lang": lang, "kind": name}
        for name, lang in (("piaf-fr", "fr"), ("squad-en", "en"))
        for line in (args.eval_dir / name / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    rows = labelled + public
    kinds = sorted({r["kind"] for r in labelled})
    results: dict[str, Any] = {"labelled": len(labelled), "public": len(public), "detectors": {}}
    print(f"{'detector':32s} {'set':>6s} " + " ".join(f"{k:>9s}" for k in kinds) + "  public  load_s  +MB  ms/q")
    for name, loader in LOADERS.items():
        started = time.perf_counter()
        got = run(loader, [r["text"] for r in rows])
        if got is None:
            print(f"{name:32s} not installed")
            continue
        labels = got.pop("labels")
        row = {
            "accuracy": accuracy(labels[: len(labelled)], labelled, _of_kind(None)),
            **{f"accuracy_{k}": accuracy(labels[: len(labelled)], labelled, _of_kind(k)) for k in kinds},
            "accuracy_public": accuracy(labels[len(labelled) :], public, _of_kind(None)),
            "wrong": [r["text"] for lab, r in zip(labels, labelled, strict=False) if lab != r["lang"]],
            **got,
        }
        results["detectors"][name] = row
        print(
            f"{name:32s} {row['accuracy']:6.3f} "
            + " ".join(f"{row[f'accuracy_{k}']:9.3f}" for k in kinds)
            + f"  {row['accuracy_public']:.4f}  {row['load_s']:.2f}  {row['load_mb']:4.0f}"
            f"  {row['per_question_ms']:.3f}   ({time.perf_counter() - started:.0f} s)"
        )
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
