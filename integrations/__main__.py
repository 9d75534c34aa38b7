"""``python -m integrations`` runs the ``ollama-integrations`` CLI."""

from integrations.cli import main

main()
