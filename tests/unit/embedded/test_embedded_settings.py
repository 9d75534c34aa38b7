"""The embedded server's one settings object: sources, precedence, and errors that name the variable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import integrations
from integrations.embedded.settings import DEFAULT_HF_ENDPOINT, EmbeddedSettings
from integrations.embedded.store import default_models_dir
from integrations.errors import ConfigError


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    settings = EmbeddedSettings()
    assert settings.thread_count() == 4
    assert settings.models_path() == Path.home() / ".cache" / "ollama-integrations" / "models"
    assert settings.allowed_origins() == ()
    assert settings.huggingface() == DEFAULT_HF_ENDPOINT


def test_precedence_arguments_environment_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("OLLAMA_INTEGRATIONS_THREADS=3\nOLLAMA_ORIGINS=https://from-dotenv\n")
    assert EmbeddedSettings().thread_count() == 3  # .env beats defaults
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_THREADS", "2")
    assert EmbeddedSettings().thread_count() == 2  # environment beats .env
    assert EmbeddedSettings(threads=5).thread_count() == 5  # arguments beat environment
    assert EmbeddedSettings().allowed_origins() == ("https://from-dotenv",)


def test_ollama_and_xdg_variables_are_read_as_their_owners_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_ORIGINS", " app://x , ,https://*.example.com")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example")
    settings = EmbeddedSettings()
    assert settings.allowed_origins() == ("app://x", "https://*.example.com")
    assert default_models_dir() == tmp_path / "ollama-integrations" / "models"
    assert settings.huggingface() == "https://mirror.example"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert EmbeddedSettings().huggingface() is None
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_MODELS_DIR", str(tmp_path / "elsewhere"))
    assert default_models_dir() == tmp_path / "elsewhere"


def test_a_bad_value_names_the_variable_and_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_THREADS", "many")
    with pytest.raises(ConfigError, match=r"OLLAMA_INTEGRATIONS_THREADS = 'many'"):
        EmbeddedSettings()
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_THREADS", "0")
    with pytest.raises(ConfigError, match=r"OLLAMA_INTEGRATIONS_THREADS = '0'.*greater than 0"):
        EmbeddedSettings()


# Modules that pass the environment on to a child process they start (never read a setting from it).
_PASSES_ENVIRONMENT_ON = {
    "sandbox.py": "builds a child's allow-listed environment",
    "cli.py": "runs node examples",
    "litellm.py": "starts the LiteLLM proxy",
}


def test_no_module_outside_the_settings_reads_the_environment() -> None:
    root = Path(integrations.__file__).parent
    readers = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "settings.py" or path.name in _PASSES_ENVIRONMENT_ON:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
                readers.append(f"{path.relative_to(root)}:{node.lineno}")
    assert readers == []
