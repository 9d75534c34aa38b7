"""`PromptCache` on a real llama.cpp context: which states it keeps, which it drops, and a restore that fails.

The answers a restored state gives are checked end to end, through the server, in
``test_embedded_core.py``; here the cache's bookkeeping is checked on the session
model's own context (llama-cpp-python), with prompts of known token counts.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.embedded.slots import MIN_GAIN, PromptCache


@pytest.fixture(scope="module")
def llm(ollama_server: Any, ollama_model: str) -> Iterator[Any]:
    if not ollama_server.embedded:
        pytest.skip("the prompt cache is the embedded server's")
    # llama-cpp-python's own cache (the prebuilt engine's is tests/integration/embedded/test_embedded_core.py's).
    llama_cpp = pytest.importorskip("llama_cpp", reason="could not import 'llama_cpp': the 'llama-cpp' extra")

    from integrations.embedded.store import Store

    record = Store(ollama_server.models_dir).require(ollama_model)
    model = llama_cpp.Llama(model_path=str(record.model_path), n_ctx=512, n_threads=1, verbose=False)
    yield model
    model.close()


def tokens(llm: Any, name: str, words: int = 40) -> list[int]:
    """A conversation of exactly ``words`` tokens that shares only its first token with another name's."""
    ids = list(llm.tokenize(f" {name}".encode(), add_bos=False))[:1] * words
    return [llm.token_bos(), *ids]


def live(llm: Any, prompt: list[int]) -> None:
    """Make ``prompt`` the context's evaluated state, as a finished generation leaves it."""
    llm.reset()
    llm.eval(prompt)


def test_least_recently_saved_states_are_evicted_to_stay_within_the_budget(llm: Any) -> None:
    a, b, c = (tokens(llm, name) for name in ("apple", "banana", "cherry"))
    probe = PromptCache(1 << 30)
    live(llm, a)
    probe.save(llm)
    one = probe.size
    cache = PromptCache(int(one * 2.5))
    for prompt in (a, b, c):
        live(llm, prompt)
        cache.save(llm)
    assert len(cache) == 2 and cache.size <= cache.budget
    live(llm, [llm.token_bos()])
    assert cache.prepare(llm, [*a, 7]) < MIN_GAIN, "the oldest state (a) was evicted"
    live(llm, [llm.token_bos()])
    assert cache.prepare(llm, [*c, 7]) == len(c), "the newest state (c) was kept and restored"
    assert cache.switches == 1


def test_a_state_that_another_extends_is_superseded(llm: Any) -> None:
    a = tokens(llm, "apple")
    longer = a + tokens(llm, "pear")[1:]
    cache = PromptCache(1 << 30)
    live(llm, a)
    cache.save(llm)
    short_size = cache.size
    live(llm, longer)
    cache.save(llm)
    assert len(cache) == 1 and cache.size > short_size, "only the longer state is kept"
    live(llm, [llm.token_bos()])
    assert cache.prepare(llm, [*longer, 7]) == len(longer)


def test_a_saved_state_is_restored_only_when_it_saves_more_than_a_few_tokens(llm: Any) -> None:
    a = tokens(llm, "apple")
    a_and_a_little = a + tokens(llm, "pear", MIN_GAIN - 1)[1:]
    a_and_more = a + tokens(llm, "plum", MIN_GAIN + 1)[1:]
    cache = PromptCache(1 << 30)
    for saved in (a_and_a_little, a_and_more):
        live(llm, saved)
        cache.save(llm)
        live(llm, a)
        reused = cache.prepare(llm, [*saved, 7])
        if saved is a_and_a_little:
            assert (reused, cache.switches) == (len(a), 0), "the live context is nearly as good: no switch"
        else:
            assert (reused, cache.switches) == (len(a_and_more), 1), "the saved state saves enough: switched"
    assert llm.input_ids[: llm.n_tokens].tolist() == a_and_more


def test_a_conversation_that_another_interrupts_is_saved_and_put_back(llm: Any) -> None:
    a, b = tokens(llm, "apple"), tokens(llm, "banana")
    cache = PromptCache(1 << 30)
    live(llm, a)
    assert cache.prepare(llm, [*b, 7]) == 1, "only the start token is shared"
    assert len(cache) == 1, "a, interrupted, was saved"
    live(llm, b)
    assert cache.prepare(llm, [*a, 7]) == len(a), "a's state is put back"
    assert cache.switches == 1 and llm.n_tokens == len(a)
    assert llm.input_ids[: llm.n_tokens].tolist() == a
    assert [s.tokens for s in cache._saved] == [b], "b, interrupted in turn, was saved; a, live, is no saved copy"


def test_a_failed_restore_leaves_an_empty_context_and_drops_the_state(llm: Any) -> None:
    a, b = tokens(llm, "apple"), tokens(llm, "banana")
    cache = PromptCache(1 << 30)
    live(llm, a)
    cache.save(llm)
    (saved,) = cache._saved
    ctypes.memset(saved.data, 0xFF, 64)  # a state llama.cpp refuses to read back
    live(llm, b)
    assert cache.prepare(llm, [*a, 7]) == 0, "nothing of a's prompt can be reused"
    assert llm.n_tokens == 0, "the context claims no tokens its KV cells do not hold"
    assert [s.tokens for s in cache._saved] == [b], "the unreadable state is gone; b was saved before the switch"
