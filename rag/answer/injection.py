"""Prompt-injection filter: sentences that address an assistant rather than inform a reader
("ignore previous instructions", "réponds uniquement X") are never evidence and are withheld from a
language model's prompt. Pure text; no model."""

from __future__ import annotations

import re

_INSTRUCTION_RE = re.compile(
    r"\b(ignore[sz]?|disregard|forget|oublie[sz]?|ignorer)\b.{0,40}\b(instructions?|consignes?|prompts?|r[eè]gles?|rules?)\b"
    r"|\b(system prompt|prompt syst[eè]me|you are now|tu es maintenant|vous [eê]tes maintenant)\b"
    r"|(?:^\W*|[,;:]\s*|\b(?:and|et|then|puis)\s+)"
    r"(answer|reply|respond|say|print|output|write|r[ée]ponds?|r[ée]pondez|dis|dites|[ée]cris|[ée]crivez)\b"
    r".{0,30}\b(only|just|uniquement|seulement|simplement)\b",
    re.I | re.S,
)


def is_instruction(sentence: str) -> bool:
    """Whether a sentence reads as an instruction to an AI assistant (a prompt injection)."""
    return bool(_INSTRUCTION_RE.search(sentence))
