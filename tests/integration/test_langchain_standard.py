"""LangChain's own standard integration suites (``langchain-tests``) on the embedded server and the decider model.

Configured as langchain-ollama configures its own suite: no ``tool_choice`` (Ollama has
none), JSON mode on, no image inputs (a text model). Temperature 0 and a fixed seed make
the 0.5B's answers repeatable. ``chat_openai()`` and ``chat_ollama()`` run the whole chat
suite (less the tests that cannot apply, `NOT_APPLICABLE`, deselected); the raw
``ChatOpenAI`` and ``ChatOllama`` run beside them the tool-calling tests they fail, as the
measured baseline (the model writes its calls as JSON text, which they hand over as
content). Every expected failure is a strict xfail naming why, as seen in its output. The
embeddings suite runs for ``openai_embeddings()`` and ``ollama_embeddings()``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

pytest.importorskip("langchain_tests")
pytest.importorskip("langchain_ollama")
pytest.importorskip("langchain_openai")

from langchain_ollama import ChatOllama, OllamaEmbeddings
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from langchain_tests.integration_tests import ChatModelIntegrationTests, EmbeddingsIntegrationTests

from integrations.pytest_plugin import DECIDER, OllamaServerInfo

pytestmark = [
    pytest.mark.decider,
    # The suite's test_structured_output_pydantic_2_v1 hands ChatOpenAI a pydantic v1 model on purpose, and
    # langchain-openai warns that it falls back to function calling for it.
    pytest.mark.filterwarnings("ignore:Received a Pydantic BaseModel V1 schema:UserWarning"),
]

_SERVER: dict[str, str] = {}
"""The server's URL, set by the autouse fixture before the suite's own ``model`` fixture builds a model."""

TEXT_CALL = "the model writes its call as JSON text, which this client hands over as content, not a tool call"


@pytest.fixture(autouse=True)
def _server(ollama_server: OllamaServerInfo, decider_model: str) -> None:
    _SERVER["url"] = ollama_server.url


def _settings() -> Any:
    from integrations.settings import OllamaSettings

    return OllamaSettings(host=_SERVER["url"], model=DECIDER, temperature=0, seed=1, max_tokens=256)


def _built(factory_name: str) -> Any:
    """``__new__`` for a class the suite constructs with keyword arguments: builds through the factory instead."""

    def new(cls: type, **kwargs: Any) -> Any:
        from integrations import langchain

        kwargs.pop("model", None)
        return getattr(langchain, factory_name)(settings=_settings(), **kwargs)

    return new


class FactoryChatOpenAI(ChatOpenAI):
    __new__ = _built("chat_openai")


class FactoryChatOllama(ChatOllama):
    __new__ = _built("chat_ollama")


NOT_APPLICABLE = (
    "test_stream_time",  # a benchmark replayed from recorded cassettes, not a live server
    "test_tool_choice",  # Ollama has no tool_choice (has_tool_choice is False, as in langchain-ollama's suite)
    "test_invoke_with_model_override",  # these four need a second model to switch to
    "test_ainvoke_with_model_override",
    "test_stream_with_model_override",
    "test_astream_with_model_override",
    "test_image_inputs",  # a text model: no images, PDFs, audio or Anthropic-style content blocks
    "test_image_tool_message",
    "test_pdf_inputs",
    "test_pdf_tool_message",
    "test_audio_inputs",
    "test_anthropic_inputs",
)
"""Tests of the suite that do not apply to this model and server: deselected (see `left_out`), not skipped."""


class _Suite(ChatModelIntegrationTests):
    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False


def _xfail(test: Any, reason: str) -> Any:
    """The suite's ``test``, expected to fail for ``reason`` (strict: a pass fails the run)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return test(*args, **kwargs)

    if inspect.iscoroutinefunction(test):

        @functools.wraps(test)
        async def arun(*args: Any, **kwargs: Any) -> Any:
            return await test(*args, **kwargs)

        return pytest.mark.xfail(strict=True, reason=reason)(arun)
    return pytest.mark.xfail(strict=True, reason=reason)(run)


class TestChatOpenAIFactory(_Suite):
    @property
    def chat_model_class(self) -> Any:
        return FactoryChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": DECIDER}


class TestChatOllamaFactory(_Suite):
    test_unicode_tool_call_integration = _xfail(
        ChatModelIntegrationTests.test_unicode_tool_call_integration,
        "through /api/chat the 0.5B names the tool after the customer ('\u4f60\u597d\u554a\u96c6\u56e2'), "
        "not unicode_customer: a call to a tool that was not offered stays text",
    )

    @property
    def chat_model_class(self) -> Any:
        return FactoryChatOllama

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": DECIDER}


# the measured baseline: the raw clients, on the suite's tool-calling tests only


class _Baseline(_Suite):
    """Only the tool-calling tests the raw clients fail (`RAW_FAILS`, and each class's own): the rest of the
    suite does not depend on how a call comes back, and the model's time in CI is short."""

    extra: tuple[str, ...] = ()


FULL = False
"""Set by tests/integration/conftest.py from ``--standard-suites=full``; the default runs the CI slice."""

CI_SLICE = (
    "test_tool_calling",
    "test_tool_calling_async",
    "test_tool_calling_with_no_arguments",
    "test_agent_loop",
    "test_bind_runnables_as_tools",
    "test_unicode_tool_call_integration",
    "test_structured_output",
    "test_invoke",
    "test_stream",
)
"""What CI runs of the chat suite for the factories: every tool-calling test the issue names, structured
output and the basics. The whole suite (about 100 tests, over 15 minutes on two cores) runs with
``--standard-suites=full``; the raw baselines keep only ``test_tool_calling`` in CI."""


def left_out(cls: type | None, name: str) -> bool:
    """Whether the suite's test ``name`` is deselected for ``cls`` (tests/integration/conftest.py asks)."""
    if name in NOT_APPLICABLE:
        return True
    if cls is None or not name.startswith("test_") or not issubclass(cls, ChatModelIntegrationTests):
        return False
    if issubclass(cls, _Baseline):
        return name not in (RAW_FAILS + cls.extra if FULL else ("test_tool_calling",))
    return not FULL and name not in CI_SLICE


RAW_FAILS = (
    "test_tool_calling",
    "test_tool_calling_async",
    "test_tool_calling_with_no_arguments",
    "test_bind_runnables_as_tools",
    "test_agent_loop",
)
"""The tool-calling tests both raw clients fail, measured: every one needs a structured call."""


class TestChatOpenAIRaw(_Baseline):
    locals().update({name: _xfail(getattr(_Suite, name), TEXT_CALL) for name in RAW_FAILS})
    # test_unicode_tool_call_integration passes for it (measured): its tool_choice "any" reaches /v1 and forces the call.

    @property
    def chat_model_class(self) -> Any:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": DECIDER,
            "base_url": _SERVER["url"] + "/v1",
            "api_key": "ollama",
            "temperature": 0,
            "seed": 1,
            "max_tokens": 256,
        }


class TestChatOllamaRaw(_Baseline):
    locals().update({name: _xfail(getattr(_Suite, name), TEXT_CALL) for name in RAW_FAILS})
    test_unicode_tool_call_integration = _xfail(
        _Suite.test_unicode_tool_call_integration,
        "ChatOllama sends no tool_choice, so nothing forces the call: " + TEXT_CALL,
    )
    extra = ("test_unicode_tool_call_integration",)

    @property
    def chat_model_class(self) -> Any:
        return ChatOllama

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": DECIDER, "base_url": _SERVER["url"], "temperature": 0, "seed": 1, "num_predict": 256}


# embeddings


class FactoryOpenAIEmbeddings(OpenAIEmbeddings):
    def __new__(cls, **kwargs: Any) -> Any:
        from integrations.langchain import openai_embeddings

        kwargs.pop("model", None)
        return openai_embeddings(settings=_settings(), **kwargs)


class FactoryOllamaEmbeddings(OllamaEmbeddings):
    def __new__(cls, **kwargs: Any) -> Any:
        from integrations.langchain import ollama_embeddings

        kwargs.pop("model", None)
        return ollama_embeddings(settings=_settings(), **kwargs)


class _Embeddings(EmbeddingsIntegrationTests):
    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": DECIDER}


class TestOpenAIEmbeddingsFactory(_Embeddings):
    @property
    def embeddings_class(self) -> Any:
        return FactoryOpenAIEmbeddings


class TestOllamaEmbeddingsFactory(_Embeddings):
    @property
    def embeddings_class(self) -> Any:
        return FactoryOllamaEmbeddings
