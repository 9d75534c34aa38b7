"""The library's one error tree.

Every error says what failed, the value involved, and how to fix it::

    OllamaError
    ├── OllamaUnreachable        the server does not answer (refused, DNS, connect timeout)
    ├── OllamaServerError        the server answered with an unexpected status or body
    ├── ModelNotFound            the model is not pulled on that server
    ├── PullFailed               a pull was refused or broke off
    ├── CapabilityMissing        the model lacks tools, vision, embedding, ...
    ├── OllamaVersionTooOld      the server is older than a feature needs
    ├── GatewayFailed            the LiteLLM gateway did not start or stopped
    ├── ConfigError              bad settings, host, profile or model name (also a ValueError)
    └── MissingDependency        an optional extra is not installed (also an ImportError)

Beside the errors, one warning category for what does not fail but goes wrong quietly::

    ContextTruncated (UserWarning)   a conversation filled the model's context; its start was dropped
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CapabilityMissing",
    "ConfigError",
    "ContextTruncated",
    "GatewayFailed",
    "MissingDependency",
    "ModelNotFound",
    "OllamaError",
    "OllamaServerError",
    "OllamaUnreachable",
    "OllamaVersionTooOld",
    "PullFailed",
]


class OllamaError(Exception):
    """Base class of every error this library raises on purpose."""


class OllamaUnreachable(OllamaError):
    """No Ollama server answers at ``host``."""

    def __init__(self, host: str, reason: str) -> None:
        from integrations.settings import env_name  # settings imports this module

        self.host = host
        self.reason = reason
        super().__init__(
            f"Ollama is not reachable at {host} ({reason}). Start it with 'ollama serve', "
            f"set {env_name('host')} to where it runs, or run the embedded server with 'ollama-integrations serve'."
        )


class OllamaServerError(OllamaError):
    """The server answered, but not with what the protocol promises."""

    def __init__(self, host: str, status: int, message: str) -> None:
        self.host = host
        self.status = status
        self.message = message
        shown = f"status {status}" if status > 0 else "a broken stream"
        super().__init__(f"Ollama at {host} answered with {shown}: {message}")


class ModelNotFound(OllamaError):
    """The model is not present on the server."""

    def __init__(self, model: str, host: str, available: Iterable[str] = ()) -> None:
        self.model = model
        self.host = host
        self.available = sorted(available)
        listed = ", ".join(self.available) if self.available else "none"
        super().__init__(
            f"model {model!r} is not pulled on {host}. Pull it with 'ollama pull {model}' "
            f"(or 'ollama-integrations pull {model}', or pass pull=True). Local models: {listed}."
        )


class PullFailed(OllamaError):
    """Pulling a model was refused or broke off."""

    def __init__(self, model: str, host: str, reason: str) -> None:
        self.model = model
        self.host = host
        self.reason = reason
        super().__init__(
            f"pulling {model!r} from {host} failed: {reason}. Check the name on https://ollama.com/library; "
            "pulling again resumes where it stopped."
        )


class CapabilityMissing(OllamaError):
    """The model cannot do what the caller asked for."""

    def __init__(self, model: str, capability: str, available: Iterable[str] = ()) -> None:
        self.model = model
        self.capability = capability
        self.available = sorted(available)
        has = ", ".join(self.available) if self.available else "none reported"
        super().__init__(
            f"model {model!r} does not support {capability} (it reports: {has}). "
            f"Choose a model with {capability}, e.g. 'qwen2.5' or 'llama3.1' for tools, 'llava' for vision."
        )


class OllamaVersionTooOld(OllamaError):
    """The server is older than a feature needs."""

    def __init__(self, host: str, version: str, minimum: str, feature: str) -> None:
        self.host = host
        self.version = version
        self.minimum = minimum
        self.feature = feature
        super().__init__(
            f"Ollama at {host} is version {version}, but {feature} needs {minimum} or newer. "
            "Upgrade Ollama from https://ollama.com/download."
        )


class GatewayFailed(OllamaError):
    """The LiteLLM proxy process did not come up, or ended on its own."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"the LiteLLM gateway on {url} {reason}")


class ConfigError(OllamaError, ValueError):
    """Settings, a host, a profile or a model name is invalid."""


class MissingDependency(OllamaError, ImportError):
    """An optional extra is not installed."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        self.fix = f"pip install 'ollama-integrations[{extra}]'"
        super().__init__(
            f"this needs the '{module}' package, which is not installed. Install it with: {self.fix}", name=module
        )


class ContextTruncated(UserWarning):
    """A response shows the prompt filled the context the model runs with: Ollama dropped its start.

    Ollama says nothing when it truncates; agent chats lose their instructions first.
    Turn it into an error with ``warnings.simplefilter("error", integrations.ContextTruncated)``.
    """
