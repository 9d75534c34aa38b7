from __future__ import annotations

from pathlib import Path

import pytest

from integrations.errors import ConfigError
from integrations.settings import OllamaSettings, available_profiles


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "mine.toml").write_text(
        'model = "from-profile"\ntemperature = 0.1\nseed = 1\nnum_ctx = 4096\n'
    )
    return tmp_path


def test_defaults() -> None:
    settings = OllamaSettings()
    assert settings.base_url == "http://127.0.0.1:11434/v1"
    assert settings.api_key.get_secret_value() == "ollama"
    assert settings.check is True
    assert settings.pull is False
    assert settings.connect_timeout < 5 < settings.timeout


def test_precedence_arguments_env_dotenv_profile_defaults(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text(
        "OLLAMA_INTEGRATIONS_PROFILE=mine\nOLLAMA_INTEGRATIONS_MODEL=from-dotenv\nOLLAMA_INTEGRATIONS_TEMPERATURE=0.3\nOLLAMA_INTEGRATIONS_SEED=3\n"
    )
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_MODEL", "from-env")
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_TEMPERATURE", "0.5")
    settings = OllamaSettings(model="from-argument")
    assert settings.model == "from-argument"  # argument beats environment
    assert settings.temperature == 0.5  # environment beats .env
    assert settings.seed == 3  # .env beats profile
    assert settings.num_ctx == 4096  # profile beats defaults
    assert settings.top_p is None  # defaults


def test_profile_chosen_by_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_PROFILE", "mine")
    assert OllamaSettings().model == "from-profile"


def test_shipped_profiles() -> None:
    profiles = available_profiles()
    assert {"chat", "coder", "tiny"} <= set(profiles)
    assert OllamaSettings(profile="tiny").model == "smollm2:135m"
    assert OllamaSettings(profile="coder").model == "codellama"


def test_ollama_host_and_api_key_read_from_their_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11435,backup")
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-sentinel-123")
    monkeypatch.setenv("HOST", "not-this")
    settings = OllamaSettings()
    assert [h.url for h in settings.hosts] == ["http://gpu-box:11435", "http://backup:11434"]
    assert settings.api_key.get_secret_value() == "sk-sentinel-123"
    assert "sk-sentinel-123" not in repr(settings)
    assert "sk-sentinel-123" not in str(settings.model_dump())


def test_unknown_profile_lists_the_available_ones(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'nope'.*mine"):
        OllamaSettings(profile="nope")


def test_malformed_profile_names_file_and_line(workdir: Path) -> None:
    (workdir / "configs" / "broken.toml").write_text('model = "x"\ntemperature = = 2\n')
    with pytest.raises(ConfigError, match=r"broken\.toml.*line 2"):
        OllamaSettings(profile="broken")


def test_profile_with_unknown_key(workdir: Path) -> None:
    (workdir / "configs" / "typo.toml").write_text('modle = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) modle"):
        OllamaSettings(profile="typo")


def test_profile_by_path(workdir: Path) -> None:
    path = workdir / "elsewhere.toml"
    path.write_text('model = "by-path"\n')
    assert OllamaSettings(profile=str(path)).model == "by-path"


@pytest.mark.parametrize(
    ("field", "value", "env"),
    [
        ("num_ctx", -1, "OLLAMA_INTEGRATIONS_NUM_CTX"),
        ("num_ctx", 10**9, "OLLAMA_INTEGRATIONS_NUM_CTX"),
        ("timeout", 0, "OLLAMA_INTEGRATIONS_TIMEOUT"),
        ("connect_timeout", -2, "OLLAMA_INTEGRATIONS_CONNECT_TIMEOUT"),
        ("temperature", 9, "OLLAMA_INTEGRATIONS_TEMPERATURE"),
        ("model", "has space", "OLLAMA_INTEGRATIONS_MODEL"),
        ("model", "../../etc", "OLLAMA_INTEGRATIONS_MODEL"),
        ("host", "ftp://x", "OLLAMA_HOST"),
    ],
)
def test_bad_values_name_field_value_and_variable(field: str, value: object, env: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OllamaSettings(**{field: value})
    message = str(caught.value)
    assert field in message
    assert env in message
    assert repr(value) in message


def test_bad_environment_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_NUM_CTX", "lots")
    with pytest.raises(ConfigError, match="lots"):
        OllamaSettings()


def test_secret_never_in_validation_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        OllamaSettings(api_key=["sk-sentinel-456"], num_ctx=-1)
    assert "sk-sentinel-456" not in str(caught.value)


def test_merged_validates_changes() -> None:
    settings = OllamaSettings(model="a")
    assert settings.merged(model="b").model == "b"
    with pytest.raises(ConfigError, match="num_ctx"):
        settings.merged(num_ctx=0)
