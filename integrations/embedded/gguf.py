"""A small, dependency-free reader for GGUF metadata.

`/api/show` and `/api/tags` must describe a model (architecture, trained
context, parameter count, quantisation) without loading it into llama.cpp, so
the header is parsed directly from the file.
"""

from __future__ import annotations

import mmap
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ARCHITECTURES",
    "FILE_TYPES",
    "KEPT_ARRAY",
    "GGUFError",
    "GGUFInfo",
    "LongArray",
    "check_loadable",
    "human_number",
    "read_gguf",
]


class GGUFError(ValueError):
    """The file is not a GGUF file this reader understands."""


# llama.cpp's `llama_ftype` values, as Ollama names them in `quantization_level`.
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
    22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
}

_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_STRING = 8
_ARRAY = 9


@dataclass(frozen=True)
class GGUFInfo:
    """What the server needs to know about a GGUF file."""

    metadata: dict[str, Any]
    parameter_count: int
    tensor_count: int
    tensors: list[dict[str, Any]] = field(repr=False)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "llama"))

    @property
    def context_length(self) -> int:
        """The trained context length, the ceiling for `num_ctx`."""
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if isinstance(value, int) else 2048

    @property
    def embedding_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.embedding_length")
        return int(value) if isinstance(value, int) else None

    @property
    def quantization(self) -> str:
        ftype = self.metadata.get("general.file_type")
        return FILE_TYPES.get(ftype, "unknown") if isinstance(ftype, int) else "unknown"

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None

    def model_info(self, verbose: bool = False) -> dict[str, Any]:
        """`/api/show`'s `model_info`: metadata minus name and template; long arrays emptied unless verbose."""
        info: dict[str, Any] = {}
        for key, value in self.metadata.items():
            if key in ("general.name", "tokenizer.chat_template"):
                continue
            if isinstance(value, LongArray) or (isinstance(value, list) and len(value) > 5 and not verbose):
                value = []  # a verbose show parses the file in full (`read_gguf(path, full=True)`)
            info[key] = value
        info.setdefault("general.parameter_count", self.parameter_count)
        return info


@dataclass(frozen=True)
class LongArray:
    """A metadata array longer than `KEPT_ARRAY`, read past but not kept (vocabularies, merges, scores)."""

    count: int


KEPT_ARRAY = 64
"""Entries an array may have to be kept in a parse that is not ``full``: longer ones are `LongArray`."""


class _Reader:
    def __init__(self, buf: mmap.mmap | bytes, *, full: bool = True) -> None:
        self.buf = buf
        self.pos = 0
        self.full = full

    def scalar(self, kind: int) -> Any:
        fmt, size = _SCALARS[kind]
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def u32(self) -> int:
        return int(self.scalar(4))

    def u64(self) -> int:
        return int(self.scalar(10))

    def string(self) -> str:
        n = self.u64()
        if n > 1 << 24:
            raise GGUFError(f"string of {n} bytes at offset {self.pos}: corrupt file")
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return bytes(raw).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.u64()
        if n > 1 << 24 or self.pos + n > len(self.buf):
            raise GGUFError(f"string of {n} bytes at offset {self.pos}: corrupt file")
        self.pos += n

    def count(self, what: str, smallest: int) -> int:
        """A count read from the file, refused when its items (``smallest`` bytes each at least) cannot fit."""
        n = self.u64()
        if n * smallest > len(self.buf) - self.pos:
            raise GGUFError(f"{what} claims {n} entries at offset {self.pos}, more than the file holds: corrupt file")
        return n

    def value(self, kind: int, depth: int = 0) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            if depth > 8:
                raise GGUFError(f"arrays nested more than 8 deep at offset {self.pos}: corrupt file")
            item_kind = self.u32()
            count = self.count("an array", _SCALARS[item_kind][1] if item_kind in _SCALARS else 8)
            left = len(self.buf) - self.pos
            if item_kind in _SCALARS:
                fmt, size = _SCALARS[item_kind]
                if count * size > left:
                    raise GGUFError(f"an array of {count} values at offset {self.pos} runs past the end of the file")
                if not self.full and count > KEPT_ARRAY:
                    self.pos += size * count
                    return LongArray(count)
                values = list(struct.unpack_from(f"<{count}{fmt[1]}", self.buf, self.pos))
                self.pos += size * count
                return values
            if (item_kind == _STRING and count * 8 > left) or count > MAX_ARRAY:
                raise GGUFError(f"an array of {count} values at offset {self.pos} is larger than the file allows")
            if not self.full and count > KEPT_ARRAY and item_kind == _STRING:
                for _ in range(count):
                    self.skip_string()
                return LongArray(count)
            values = [self.value(item_kind, depth + 1) for _ in range(count)]
            return values if self.full or count <= KEPT_ARRAY else LongArray(count)
        if kind in _SCALARS:
            return self.scalar(kind)
        raise GGUFError(f"unknown GGUF value type {kind} at offset {self.pos}")


MAX_ARRAY = 1 << 24
"""Entries in one metadata array (vocabularies have a few hundred thousand)."""

MAX_BLOCKS = 1024
"""Transformer blocks a model may declare (the largest open models have under 200)."""

MAX_TENSORS = 1 << 20
"""Tensors a model may declare."""

ARCHITECTURES = frozenset(
    """
    afmoe apertus arcee arctic arwkv7 baichuan bailingmoe bailingmoe2 bailingmoe3 bert bitnet bloom chameleon
    chatglm codeshell cogvlm cohere2 cohere2moe command-r dbrx deci deepseek deepseek2 deepseek2-ocr deepseek32
    deepseek4 dots1 dots3note dream ernie4_5 ernie4_5-moe eurobert exaone exaone-moe exaone4 falcon falcon-h1
    gemma gemma-embedding gemma-embedding2 gemma2 gemma3 gemma3n gemma4-assistant glm-dsa glm4 glm4moe glm5-next
    gpt-oss gpt2 gptj gptneox granite granite_swa granitehybrid granitemoe graniteswitch grok grovemoe hrm_text
    hunyuan-dense hunyuan-moe hunyuan_vl hy_v3 hy_v4 internlm2 jais jais2 jamba jina-bert-v2 jina-bert-v3
    k2-horizon kimi-k3 kimi-linear laguna lfm2 lfm2moe llada llada-moe llama llama-embed llama4 maincoder mamba
    mamba2 maple mellum mimo2 minicpm minicpm3 minimax-01 minimax-m2 mistral3 mistral4 modern-bert mpt nanbeige
    nemotron nemotron_h nemotron_h_moe neo-bert nomic-bert nomic-bert-moe olmo olmo2 olmoe openelm orion pangu-
    embedded phi2 phi3 phimoe plamo plamo2 plamo3 plm pockettts qwen qwen2 qwen2moe qwen2vl qwen3 qwen35
    qwen35moe qwen3moe qwen3next qwen3tts qwen3vl qwen3vlmoe qwen4exp refact rnd1 rwkv6 rwkv6qwen2 rwkv7
    seed_oss smallthinker smollm3 spark2_5 stablelm starcoder starcoder2 step35 t5 t5encoder talkie
    wavtokenizer-dec xverse
    """.split()  # noqa: SIM905 - a word list reads better than 150 quoted names
)
"""Model architectures llama.cpp's loader knows (``general.architecture``)."""

_NO_BLOCKS = frozenset({"wavtokenizer-dec"})


def check_loadable(info: GGUFInfo) -> None:
    """Refuse metadata llama.cpp would abort on instead of reporting: an unknown architecture, an absurd
    block count, no tensors or too many. Raises `GGUFError` naming the key and the value."""
    arch = info.metadata.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise GGUFError("general.architecture is missing: this is not a model file llama.cpp can load")
    if arch not in ARCHITECTURES:
        raise GGUFError(f"general.architecture {arch!r} is not an architecture llama.cpp knows")
    blocks = info.metadata.get(f"{arch}.block_count")
    if arch not in _NO_BLOCKS:
        if isinstance(blocks, bool) or not isinstance(blocks, int):
            raise GGUFError(f"{arch}.block_count is {blocks!r}: a model needs a whole number of blocks")
        if not 1 <= blocks <= MAX_BLOCKS:
            raise GGUFError(f"{arch}.block_count is {blocks}: it must be between 1 and {MAX_BLOCKS}")
        if info.tensor_count < blocks:
            raise GGUFError(f"{arch}.block_count is {blocks} but the file holds only {info.tensor_count} tensors")
    if not 1 <= info.tensor_count <= MAX_TENSORS:
        raise GGUFError(f"the file declares {info.tensor_count} tensors: it must hold between 1 and {MAX_TENSORS}")


_cache: dict[tuple[str, int, int], GGUFInfo] = {}
CACHE_ENTRIES = 8
"""Parsed files kept (a vocabulary parses to tens of MB of Python objects): least recently read out first."""
_cache_lock = threading.Lock()


def read_gguf(path: Path, *, full: bool = False) -> GGUFInfo:
    """Parse the metadata and tensor table of ``path`` (memoised by path, size and mtime).

    Arrays longer than `KEPT_ARRAY` (a vocabulary, its merges and scores: tens of MB of Python
    objects) are read past and kept as `LongArray`, so a parse costs kilobytes, whoever uploaded
    the file; ``full`` keeps them (uncached: ``/api/show`` with ``verbose``).
    """
    if full:
        return _parsed(path, full=True)
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _cache_lock:
        hit = _cache.pop(key, None)
        if hit is not None:
            _cache[key] = hit  # most recently used last
    if hit is not None:
        return hit
    info = _parsed(path, full=False)
    with _cache_lock:
        _cache[key] = info
        for old in [k for k in _cache if k[0] == key[0] and k != key]:
            del _cache[old]  # the same path rewritten: the old parse is garbage
        while len(_cache) > CACHE_ENTRIES:
            del _cache[next(iter(_cache))]
    return info


def _parsed(path: Path, *, full: bool) -> GGUFInfo:
    try:
        return _parse(path, full=full)
    except struct.error as exc:  # a read past the end: the file is cut short or lies about its sizes
        raise GGUFError(f"{path}: truncated or corrupt GGUF file ({exc})") from None


def _parse(path: Path, *, full: bool) -> GGUFInfo:
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[:4] != b"GGUF":
            raise GGUFError(f"{path} is not a GGUF file (bad magic {bytes(buf[:4])!r})")
        r = _Reader(buf, full=full)
        r.pos = 4
        version = r.u32()
        if version == 1:
            raise GGUFError(f"{path}: GGUF version 1 is not supported")
        n_tensors = r.count("the tensor table", 24)  # name length, dimension count, type, offset
        n_kv = r.count("the metadata", 12)  # key length and value type
        if n_tensors > MAX_TENSORS or n_kv > MAX_ARRAY:
            raise GGUFError(f"{path} declares {n_tensors} tensors and {n_kv} metadata keys: corrupt or crafted")
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            k = r.string()
            metadata[k] = r.value(r.u32())
        tensors: list[dict[str, Any]] = []
        total = 0
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.u32()
            if n_dims > 8:
                raise GGUFError(f"tensor {name!r} has {n_dims} dimensions: corrupt file")
            shape = [r.u64() for _ in range(n_dims)]
            ttype = r.u32()
            r.u64()  # data offset
            count = 1
            for d in shape:
                count *= d
            total += count
            tensors.append({"name": name, "type": ttype, "shape": shape})
    return GGUFInfo(metadata=metadata, parameter_count=total, tensor_count=n_tensors, tensors=tensors)


def human_number(n: int) -> str:
    """Ollama's `parameter_size` style: ``134515008`` -> ``"134.52M"``."""
    for unit, scale in (("B", 1_000_000_000), ("M", 1_000_000), ("K", 1_000)):
        if n >= scale:
            value = n / scale
            text = f"{value:.2f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return str(n)
