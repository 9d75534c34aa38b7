"""The runner: one process per loaded model, hosting llama.cpp's own server (``xllamacpp``).

Started by `integrations.embedded.engines.xllama` as ``python -m
integrations.embedded.engines.runner``. It reads one JSON line of settings from
stdin (model path, context, slots, threads, the key that guards its loopback
HTTP listener), loads the model, writes ``{"address": ...}`` on stdout, and
serves until stdin closes (the server stopped it, or died). A crash in
llama.cpp ends this process only; the server reports it on the requests it was
serving.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from typing import Any

__all__ = ["main"]


def _params(config: dict[str, Any]) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = config["path"]
    params.n_ctx = int(config["n_ctx"]) * int(config["n_parallel"])
    params.n_parallel = int(config["n_parallel"])
    params.cpuparams.n_threads = int(config["n_threads"])
    params.cpuparams_batch.n_threads = int(config["n_threads"])
    params.api_keys = [config["api_key"]]
    params.cache_ram_mib = 0  # saved prompt states are the server's, within its budget
    slot_dir = config.get("slot_save_path") or ""
    params.slot_save_path = os.path.join(slot_dir, "") if slot_dir else ""  # llama.cpp appends the file name
    params.endpoint_slots = True
    params.warmup = True  # a model that crashes llama.cpp on its first batch does so while loading
    params.kv_unified = False  # each slot owns n_ctx tokens, as Ollama's num_ctx per request
    params.ctx_shift = False
    if config.get("embedding"):
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        params.n_batch = int(config["n_ctx"])
        params.n_ubatch = int(config["n_ctx"])
    return params


def main() -> None:
    with contextlib.suppress(ImportError, ValueError, OSError):  # a crash ends the runner without a core file
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    config = json.loads(sys.stdin.readline())
    handshake = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # llama.cpp prints to stdout too: only the handshake line goes to the server
    import xllamacpp

    server = xllamacpp.Server(_params(config))
    handshake.write(json.dumps({"address": server.listening_address, "pid": os.getpid()}) + "\n")
    handshake.flush()
    sys.stdin.read()  # until the server closes our stdin (or its process ends)
    if config.get("slot_save_path"):  # saved conversations go with the model, even when the server was killed
        shutil.rmtree(config["slot_save_path"], ignore_errors=True)
    os._exit(0)  # the model's memory goes with the process; skip llama.cpp's teardown


if __name__ == "__main__":
    main()
