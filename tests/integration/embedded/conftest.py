"""Make the plugin's fixtures available here even when the pytest11 entry point is not installed."""

from integrations.pytest_plugin import ollama_model, ollama_server, ollama_settings  # noqa: F401
