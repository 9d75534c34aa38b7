"""The sandbox (`integrations.sandbox`) as an autogen-core ``CodeExecutor``, for AgentChat's ``CodeExecutorAgent``.

A separate module because the class must subclass autogen-core's, which only the
``agentchat`` extra installs; `integrations.sandbox` itself stays framework-free.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from pathlib import Path

from integrations._deps import require

require("autogen_core", "agentchat")

from autogen_core import CancellationToken  # noqa: E402  (after the import guard)
from autogen_core.code_executor import CodeBlock, CodeExecutor, CodeResult  # noqa: E402

from integrations.sandbox import Limits, UnconfinedWarning, confinement, run_blocks_async  # noqa: E402

__all__ = ["ConfinedCodeResult", "ConfinedLocalCodeExecutor"]


@dataclass
class ConfinedCodeResult(CodeResult):
    """A code result that names the file the first block was saved to, as autogen-ext's own does."""

    code_file: str | None = None


class ConfinedLocalCodeExecutor(CodeExecutor):
    """Runs Python blocks through `integrations.sandbox.run_block`; refuses shell blocks.

    Cancelling the token kills the running block with every process it started.
    Warns with `UnconfinedWarning` when this machine cannot confine all `Confinement` lists.
    ``network`` and ``limits`` as for `run_block`.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        timeout: int = 60,
        python: str | None = None,
        network: bool = False,
        limits: Limits | None = None,
    ) -> None:
        if timeout < 1:
            raise ValueError(f"timeout must be at least 1 second, not {timeout!r}")
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.python = python
        self.network = network
        self.limits = limits
        self.confinement = confinement(network=network, limits=limits)
        if not self.confinement.complete:
            warnings.warn(self.confinement.describe(self.work_dir, timeout), UnconfinedWarning, stacklevel=2)

    async def execute_code_blocks(
        self, code_blocks: list[CodeBlock], cancellation_token: CancellationToken
    ) -> ConfinedCodeResult:
        blocks = [(block.language, block.code) for block in code_blocks]
        run = run_blocks_async(
            blocks, self.work_dir, timeout=self.timeout, python=self.python, network=self.network, limits=self.limits
        )
        task = asyncio.ensure_future(run)
        cancellation_token.link_future(task)
        result = await task
        code_file = str(result.code_file) if result.code_file else None
        return ConfinedCodeResult(exit_code=result.exit_code, output=result.output, code_file=code_file)

    async def start(self) -> None:
        """Nothing to start: each block runs in a fresh process."""

    async def stop(self) -> None:
        """Nothing to stop: a block's processes are gone when it returns."""

    async def restart(self) -> None:
        """Nothing to restart."""
