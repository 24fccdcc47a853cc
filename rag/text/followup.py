"""Follow-up questions: "Et combien a-t-il payé pour lui ?" means nothing to a retriever on its own.

When a question reads as a follow-up (it opens with a connective, points back with a pronoun or a
demonstrative, or has almost no content words) the retrieval query is completed with the previous
question (not the previous answer: that measured worse). The evidence is still scored against the
question as asked, among the passages found with the context. Pure text, no model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .terms import EN_STOP, FR_STOP, valid_text, words

Turn = dict[str, str]  # {"role": "user" | "assistant", "content": "..."}


def message_text(content: Any) -> str:
    """A chat message's text: a string, or the text of each part of a list of content parts (the
    shapes Gradio and OpenAI clients send); lone surrogates become U+FFFD."""
    if isinstance(content, str):
        return valid_text(content)
    if isinstance(content, list):
        return " ".join(message_text(c) for c in content)
    if isinstance(content, dict):
        return message_text(content.get("text", ""))
    return str(content)


_CONNECTIVE_RE = re.compile(
    r"^\s*[«\"(]?\s*(et|mais|alors|puis|aussi|sinon|and|but|also|so|what about|how about)\b", re.I
)
ANAPHORS = {
    "fr": frozenset(
        """il elle ils elles lui leur leurs eux son sa ses celui celle ceux celles cela ça ce cet cette ces
        y là dernier dernière derniers dernières""".split()
    ),
    "en": frozenset("he she it they him her them his its their this that these those there".split()),
}
# Content words at or under which a question cannot stand alone ("Pour combien ?", "Why?").
MIN_CONTENT_WORDS = 1
MAX_QUERY_CHARS = 600


def is_follow_up(question: str) -> bool:
    """Whether `question` depends on the conversation before it."""
    ws = words(question)
    if _CONNECTIVE_RE.match(question):
        return True
    if any(w in ANAPHORS["fr"] or w in ANAPHORS["en"] for w in ws):
        return True
    content = [w for w in ws if w not in FR_STOP and w not in EN_STOP]
    return len(content) <= MIN_CONTENT_WORDS


def earlier_question(question: str, history: Sequence[Turn] | None) -> str:
    """What `question` follows up on: the previous question, itself completed from the turns before
    it (so chains of follow-ups work); "" when `question` stands alone or there is no earlier one."""
    if not history or not is_follow_up(question):
        return ""
    users = [i for i, t in enumerate(history) if t.get("role") == "user" and t.get("content", "").strip()]
    if not users:
        return ""
    last = users[-1]
    return contextualize(history[last]["content"], history[:last])[:MAX_QUERY_CHARS]


def contextualize(question: str, history: Sequence[Turn] | None) -> str:
    """The query to retrieve with: `question`, followed by what it follows up on."""
    earlier = earlier_question(question, history)
    return f"{question} {earlier}" if earlier else question
