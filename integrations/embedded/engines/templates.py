"""Chat templates rendered as Hugging Face's ``transformers`` renders them (Jinja in a sandbox).

The GGUF's ``tokenizer.chat_template`` is a Jinja template written for
``transformers``: blocks trimmed, ``{% generation %}`` tags passed through,
``tojson`` keeping non-ASCII text, ``raise_exception`` and ``strftime_now``
available. Rendering here keeps prompts identical whichever engine runs.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from integrations.embedded.protocol import ApiError

__all__ = ["render_chat_template"]

_compiled: dict[str, Any] = {}
_lock = threading.Lock()


def _environment() -> Any:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _GenerationTag(jinja2.ext.Extension):
        """``{% generation %}...{% endgeneration %}`` renders its body (it marks training targets)."""

        tags = {"generation"}  # noqa: RUF012 - jinja reads it from the class

        def parse(self, parser: Any) -> Any:
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    def tojson(
        value: Any,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: tuple[str, str] | None = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_GenerationTag, jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = tojson
    return env


def _raise(message: str) -> None:
    raise ValueError(message)


def _now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def render_chat_template(
    template: str, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None, bos_token: str, eos_token: str
) -> str:
    """``template`` applied to ``turns`` (and ``tools``), ending with the assistant's generation prompt."""
    with _lock:
        compiled = _compiled.get(template)
    try:
        if compiled is None:
            compiled = _environment().from_string(template)
            with _lock:
                if len(_compiled) > 64:
                    _compiled.clear()
                _compiled[template] = compiled
        return str(
            compiled.render(
                messages=turns,
                tools=tools or None,
                bos_token=bos_token,
                eos_token=eos_token,
                add_generation_prompt=True,
                raise_exception=_raise,
                strftime_now=_now,
            )
        )
    except Exception as exc:  # jinja raises on conversations a template rejects
        raise ApiError(400, f"the model's chat template rejected the messages: {exc}") from None
