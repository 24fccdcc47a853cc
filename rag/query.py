"""Reading a question once: its language and, for a follow-up, the text to retrieve with. Every
later stage takes the `Query` made here instead of looking at the question again. Pure text."""

from __future__ import annotations

from collections.abc import Sequence

from .records import Query
from .text.followup import Turn, earlier_question
from .text.lang import detect_lang
from .text.terms import valid_text


def read_query(question: str, history: Sequence[Turn] | None = None) -> Query:
    """The `Query` for `question`, asked after the turns in `history`.

    A follow-up ("Et combien a-t-il payé ?") is retrieved with the earlier question appended; its
    language is its own, or the earlier question's when its words say nothing either way.
    """
    question = valid_text(question)
    if history:
        history = [
            {**t, "content": valid_text(t["content"])} if isinstance(t.get("content"), str) else t for t in history
        ]
    earlier = earlier_question(question, history)
    search_text = f"{question} {earlier}" if earlier else question
    lang = detect_lang(question, default=detect_lang(earlier) if earlier else "fr")
    return Query(text=question, search_text=search_text, lang=lang, earlier=earlier)
