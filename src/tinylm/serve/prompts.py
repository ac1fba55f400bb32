"""How requests become prompts for a story model.

Story models continue text, so a prompt is simply the beginning of a story. Two mappings sit on
top of that, both documented in the README:

- chat: the *last user message* is the story beginning and the assistant's reply is the
  continuation. System messages and earlier turns are ignored: a model trained on stories has no
  notion of them, and pretending otherwise would only hide that.
- instruct: a model tuned on TinyStories-Instruct records (see `tinylm.synth.format_instruct`)
  is prompted with the same fields in the same order, ending in 'Story: \\n'.
"""

from __future__ import annotations

from typing import Any

from tinylm.errors import TinylmError
from tinylm.synth import FEATURES as INSTRUCT_FEATURES

__all__ = ["INSTRUCT_FEATURES", "chat_prompt", "instruct_prompt", "supports_instruct"]


def supports_instruct(config: dict[str, Any]) -> bool:
    """Whether a run was tuned to follow Words / Features / Summary instructions.

    HOOK(instruct): instruct tuning is being added on another branch. Until it lands, a run counts
    as instruct-tuned when its config.json says so in one of the two obvious ways:
    `"instruct": true` at the top level, or `"data": {"format": "instruct"}`. Adjust this one
    function when that branch settles its config field; the GUI and server only ask here."""
    if config.get("instruct"):
        return True
    data = config.get("data")
    return isinstance(data, dict) and data.get("format") == "instruct"


def instruct_prompt(words: str = "", features: list[str] | None = None, summary: str = "") -> str:
    """The prefix of a TinyStories-Instruct record; the model writes the story after it."""
    lines = []
    if features:
        lines.append(f"Features: {', '.join(features)}")
    word_list = [w.strip() for w in words.replace("，", ",").split(",") if w.strip()]
    if word_list:
        lines.append(f"Words: {', '.join(word_list)}")
    if summary.strip():
        lines.append(f"Summary: {summary.strip()}")
    lines.append("Story: \n")
    return "\n".join(lines)


def message_text(content: Any) -> str:
    """A chat message's content: a string, or OpenAI's list of parts of which text ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            else:
                raise TinylmError("only text message parts are supported by story models")
        return "".join(texts)
    if content is None:
        return ""
    raise TinylmError("message content must be a string or a list of text parts")


def chat_prompt(messages: list[dict[str, Any]]) -> str:
    """The story beginning for a chat request: the last user message (see module docstring)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message.get("content"))
    raise TinylmError("messages need at least one message with role 'user' (the story beginning)")
