"""The models directory: name-to-path safety, pull, create (from a base or an uploaded GGUF), delete, listing."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from integrations.embedded.gguf import read_gguf
from integrations.embedded.protocol import ApiError
from integrations.embedded.store import NOT_FOUND, Store, default_models_dir
from tests.unit.embedded.fakes import FakeCarrier, make_gguf


def test_gguf_reader(tmp_path: Path):
    info = read_gguf(make_gguf(tmp_path / "tiny.gguf"))
    assert info.architecture == "llama"
    assert info.context_length == 2048
    assert info.quantization == "Q4_1"
    assert info.parameter_count == 32
    assert info.model_info()["tokenizer.ggml.tokens"] == []  # long arrays hidden unless verbose
    assert len(info.model_info(verbose=True)["tokenizer.ggml.tokens"]) == 7


def test_pull_progress_shape(store: Store, carrier: FakeCarrier):
    events = list(store.pull("tiny:1m"))
    assert events[0] == {"status": "pulling manifest"}
    progress = [e for e in events if "digest" in e]
    for part in carrier.entry.carrier:
        lines = [e for e in progress if e["digest"] == f"sha256:{part.sha256}"]
        assert lines, part
        assert all(e["status"] == f"pulling {part.sha256[:12]}" and e["total"] == part.size for e in lines)
        assert lines[-1]["completed"] == part.size
    assert [e["status"] for e in events[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    assert (store.blobs / f"sha256-{carrier.entry.sha256}").read_bytes() == carrier.data
    again = list(store.pull("TINY:1M"))
    assert [e for e in again if "digest" in e] == [{
        "status": f"pulling {carrier.entry.sha256[:12]}", "digest": carrier.entry.digest,
        "total": carrier.entry.size, "completed": carrier.entry.size,
    }]
    assert len(carrier.downloads) == len(carrier.entry.carrier)  # the second pull fetched nothing


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


def test_names_and_digests_never_leave_the_models_dir(store: Store):
    from integrations.names import parse_model_name

    for name in ("llama2", "user/m:tag", "host.example:5000/ns/m:v1", "A.B-c_d:1.2"):
        path = store.manifest_path(parse_model_name(name))
        assert store.manifests in path.parents
    good = "sha256:" + "a" * 64
    assert store.blob_path(good) == store.blobs / f"sha256-{'a' * 64}"
    for bad in ("sha256:../../etc/passwd", "sha256:" + "A" * 64, "sha256-" + "a" * 64, "sha256:" + "a" * 63,
                "a" * 64, "sha256:" + "a" * 64 + "/", "sha512:" + "a" * 64, "", None, 7):
        with pytest.raises(ApiError) as err:
            store.blob_path(bad)  # type: ignore[arg-type]
        assert err.value.status == 400 and "invalid digest" in err.value.message


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
    with pytest.raises(ApiError) as err:
        store.create("x", None, {}, None)
    assert err.value.message == "neither 'from' or 'files' was specified"
    with pytest.raises(ApiError) as err:
        store.create("x", "tiny:1m", {}, None, files={"x.gguf": "sha256:" + "a" * 64})
    assert err.value.status == 400 and "not both" in err.value.message


def test_create_pulls_a_catalogue_base(store: Store):
    statuses = [e["status"] for e in store.create("derived", "tiny:1m", {"num_ctx": 512}, None)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    derived = store.resolve("derived")
    assert derived is not None and derived.parameters == {"num_ctx": 512}


def test_delete_removes_manifest_and_unused_blobs(store: Store):
    list(store.pull("tiny:1m"))
    list(store.create("derived", "tiny:1m", {"num_ctx": 512}, None))
    blobs_before = set(store.blobs.glob("sha256-*"))
    assert store.delete("Derived")
    assert store.resolve("derived") is None
    assert store.resolve("tiny:1m") is not None  # the shared GGUF stays
    assert set(store.blobs.glob("sha256-*")) < blobs_before
    assert not store.delete("derived")
    assert store.delete("tiny:1m")
    assert [p for p in store.blobs.glob("sha256-*") if not p.name.endswith("-lock")] == []
    assert store.list() == []


def test_copy_gives_a_second_name(store: Store):
    list(store.pull("tiny:1m"))
    store.copy("tiny:1m", "other/name:v1")
    copied = store.resolve("other/name:v1")
    assert copied is not None and copied.model_digest == store.require("tiny:1m").model_digest
    with pytest.raises(ApiError) as err:
        store.copy("missing", "x")
    assert err.value.status == 404


def test_default_models_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("OLLAMA_INTEGRATIONS_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_models_dir() == tmp_path / "ollama-integrations" / "models"
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_MODELS_DIR", str(tmp_path / "elsewhere"))
    assert default_models_dir() == tmp_path / "elsewhere"


# -- blobs and create from files ----------------------------------------------------------------------------


def _upload(store: Store, path: Path, chunk: int = 1 << 16) -> str:
    data = path.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    upload = store.begin_upload(digest)
    for i in range(0, len(data), chunk):
        upload.write(data[i:i + chunk])
    upload.commit()
    return digest


def test_blob_upload_checks_the_digest(store: Store, tmp_path: Path):
    data = make_gguf(tmp_path / "mine.gguf").read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert not store.has_blob(digest)
    upload = store.begin_upload(digest)
    upload.write(data)
    assert upload.commit() is True
    assert store.has_blob(digest)
    again = store.begin_upload(digest)
    again.write(data)
    assert again.commit() is False  # already there: Ollama answers 200 instead of 201
    wrong = "sha256:" + "0" * 64
    upload = store.begin_upload(wrong)
    upload.write(data)
    with pytest.raises(ApiError) as err:
        upload.commit()
    assert err.value.status == 400 and wrong in err.value.message and digest in err.value.message
    assert not store.has_blob(wrong)
    assert [p.name for p in store.blobs.iterdir() if "upload" in p.name] == []  # no temp file left behind
    with pytest.raises(ApiError):
        store.begin_upload("sha256:../../../etc/passwd")


def test_create_from_an_uploaded_gguf(store: Store, tmp_path: Path):
    digest = _upload(store, make_gguf(tmp_path / "mine.gguf", template="{% if tools %}{{ tools }}{% endif %}"))
    statuses = [e["status"] for e in store.create("mine", None, {"num_ctx": 1024}, "Hi.", files={"mine.gguf": digest})]
    assert statuses == ["parsing GGUF", f"using existing layer {digest}", "writing manifest", "success"]
    record = store.require("mine")
    assert record.model_digest == digest and record.parameters == {"num_ctx": 1024} and record.system == "Hi."
    assert record.capabilities == ["completion", "tools"]  # its template renders tools
    list(store.create("mine-derived", "mine", {"temperature": 0.1}, None))  # `from` a blob-backed model
    assert store.require("mine-derived").parameters == {"num_ctx": 1024, "temperature": 0.1}
    plain = _upload(store, make_gguf(tmp_path / "plain.gguf"))
    list(store.create("plain", None, None, None, files={"plain.gguf": plain}))
    assert store.require("plain").capabilities == ["completion"]  # no tools in its template: not claimed


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../x.gguf": "DIGEST"}, "invalid file name"),
        ({"a/b.gguf": "DIGEST"}, "invalid file name"),
        ({"/abs.gguf": "DIGEST"}, "invalid file name"),
        ({"x.safetensors": "DIGEST"}, "not a .gguf file"),
        ({"x.gguf": "sha256:" + "b" * 64}, "not found; upload it first"),
        ({"x.gguf": "sha256:XYZ"}, "invalid digest"),
        ({"x.gguf": "DIGEST", "y.gguf": "DIGEST"}, "exactly one .gguf"),
        ({"x.gguf": "NOTGGUF"}, "is not a GGUF file"),
        ("x.gguf", "files must be an object"),
    ],
)
def test_create_from_files_refuses_bad_entries(store: Store, tmp_path: Path, files: object, message: str):
    digest = _upload(store, make_gguf(tmp_path / "ok.gguf"))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a gguf at all")
    not_gguf = _upload(store, junk)
    if isinstance(files, dict):
        files = {k: {"DIGEST": digest, "NOTGGUF": not_gguf}.get(v, v) for k, v in files.items()}
    with pytest.raises(ApiError) as err:
        store.create("x", None, None, None, files=files)  # type: ignore[arg-type]
    assert err.value.status == 400 and message in err.value.message
    assert store.resolve("x") is None


# -- malformed manifests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b'{"layers": "nope"}',
        b'{"layers": []}',
        b'{"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../../etc/passwd"}]}',
        b'{"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:' + b"c" * 64 + b'"}]}',
        b'{"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "JUNKBLOB"}]}',
        b'{"config": 5, "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "MODEL"}]}',
    ],
)
def test_a_malformed_manifest_is_skipped_and_can_be_deleted(
    store: Store, caplog: pytest.LogCaptureFixture, content: bytes
):
    list(store.pull("tiny:1m"))
    good = store.require("tiny:1m")
    junk = store.blobs / ("sha256-" + hashlib.sha256(b"junk").hexdigest())
    junk.write_bytes(b"junk")
    content = content.replace(b"JUNKBLOB", b"sha256:" + junk.name[7:].encode())
    content = content.replace(b"MODEL", good.model_digest.encode())
    broken = store.manifests / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="integrations.embedded"):
        assert [r.short for r in store.list()] == ["tiny:1m"]
    assert "malformed manifest" in caplog.text and "broken" in caplog.text
    assert store.resolve("broken") is None
    assert store.delete("broken")
    assert not broken.exists()
    assert store.resolve("tiny:1m") is not None  # deleting the broken one spared the good model's blobs


def test_deleting_a_broken_manifest_keeps_blobs_it_shares(store: Store):
    list(store.pull("tiny:1m"))
    good = store.require("tiny:1m")
    broken = store.manifests / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_text(json.dumps({"layers": [{"digest": good.model_digest}]}) + "garbage")
    assert store.delete("broken")
    assert good.model_path.is_file()
