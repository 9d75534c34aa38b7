from __future__ import annotations

import pytest

from integrations.errors import ConfigError
from integrations.names import display_name, parse_model_name, same_model


@pytest.mark.parametrize(
    ("a", "b"),
    [("llama2", "llama2:latest"), ("LLAMA2", "llama2"), ("registry.ollama.ai/library/qwen2.5:7b", "qwen2.5:7b")],
)
def test_names_compare_as_ollama_compares_them(a: str, b: str) -> None:
    assert same_model(a, b)


def test_different_tags_are_different_models() -> None:
    assert not same_model("llama2", "llama2:13b")


def test_display_form() -> None:
    assert display_name("user/m") == "user/m:latest"


@pytest.mark.parametrize("bad", ["", " ", "has space", "../etc/passwd", "/abs", "llama2:", "a/b/c/d", "m:tag/x"])
def test_bad_names_raise_config_error_naming_the_value(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_model_name(bad)
    assert "model" in str(caught.value)
    if bad.strip():
        assert repr(bad) in str(caught.value)
