"""A chat longer than the context loses its oldest turns first, keeping system messages and the last one (Ollama's rule)."""

from __future__ import annotations

import pytest

from integrations.embedded.planning import TOO_LONG, fit_to_context
from integrations.embedded.prompting import ChatMessage
from integrations.embedded.protocol import ApiError


def _chat(*turns: tuple[str, str]) -> list[ChatMessage]:
    return [ChatMessage(role, content) for role, content in turns]


def _tokens(messages: list[ChatMessage]) -> list[int]:
    """One token per word, each message's words in order: a prompt whose tokens show what was kept."""
    return [hash(word) for m in messages for word in m.content.split()]


CHAT = _chat(
    ("system", "be terse"),  # 2 words
    ("user", "one two three four"),  # 4
    ("assistant", "five six seven"),  # 3
    ("user", "eight nine"),  # 2
    ("assistant", "ten"),  # 1
    ("user", "eleven twelve thirteen"),  # 3
)


def test_a_chat_that_fits_is_whole() -> None:
    assert fit_to_context(CHAT, 15, _tokens, truncate=True) == _tokens(CHAT)


@pytest.mark.parametrize(
    ("n_ctx", "kept"),
    [
        (14, [0, 2, 3, 4, 5]),  # the first user turn goes
        (11, [0, 2, 3, 4, 5]),
        (10, [0, 3, 4, 5]),
        (6, [0, 4, 5]),
        (5, [0, 5]),
        (3, [0, 5]),  # even the last message alone does not fit: system + last, the engine truncates the rest
    ],
)
def test_the_oldest_turns_go_first_and_system_and_last_stay(n_ctx: int, kept: list[int]) -> None:
    assert fit_to_context(CHAT, n_ctx, _tokens, truncate=True) == _tokens([CHAT[i] for i in kept])


def test_a_system_message_in_the_middle_stays_when_the_turns_around_it_go() -> None:
    chat = _chat(("user", "a b c d"), ("system", "s"), ("user", "e f g"), ("assistant", "h"), ("user", "i j"))
    assert fit_to_context(chat, 4, _tokens, truncate=True) == _tokens([chat[1], chat[3], chat[4]])


def test_truncate_false_is_a_400_naming_the_sizes_and_the_fixes() -> None:
    with pytest.raises(ApiError) as caught:
        fit_to_context(CHAT, 10, _tokens, truncate=False)
    assert caught.value.status == 400
    assert TOO_LONG in str(caught.value) and "15 tokens, num_ctx 10" in str(caught.value)
    assert fit_to_context(CHAT, 15, _tokens, truncate=False) == _tokens(CHAT)
