"""Engine choice (CPU flags, installed engines), runner exit wording, GGUF load checks, schema closing."""

from __future__ import annotations

import signal
import struct
from pathlib import Path
from typing import Any

import pytest

from integrations.embedded.engines import cpu_has_avx2, resolve_engine
from integrations.embedded.engines.xllama import closed_objects, describe_exit
from integrations.embedded.gguf import GGUFError, check_loadable, read_gguf
from integrations.embedded.settings import EmbeddedSettings
from integrations.errors import ConfigError, MissingDependency

CPUINFO_AVX2 = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu vme de pse tsc msr sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2 avx512f
bogomips\t: 4800.00

processor\t: 1
flags\t\t: fpu vme de pse tsc msr sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2 avx512f
"""

CPUINFO_AVX_ONLY = """processor\t: 0
flags\t\t: fpu vme de pse tsc msr sse sse2 ssse3 cx16 sse4_1 sse4_2 avx
"""


def test_avx2_is_read_from_every_cores_flags() -> None:
    assert cpu_has_avx2(CPUINFO_AVX2) is True
    assert cpu_has_avx2(CPUINFO_AVX_ONLY) is False
    # one core without it (a heterogeneous machine) is enough to refuse the prebuilt engine
    assert cpu_has_avx2(CPUINFO_AVX2 + "\nprocessor\t: 2\n" + CPUINFO_AVX_ONLY.split("\n", 1)[1]) is False
    assert cpu_has_avx2("processor\t: 0\nmodel name\t: something\n") is None  # no flags line: unknown
    assert cpu_has_avx2("flags\t\t: avx2x avx512_avx2\n") is False  # whole words only


def _installed(*names: str) -> Any:
    return lambda name: name in names


def test_auto_takes_the_prebuilt_engine_where_the_cpu_runs_it() -> None:
    assert resolve_engine("auto", avx2=True, installed=_installed("xllamacpp", "llama-cpp")) == "xllamacpp"
    assert resolve_engine("auto", avx2=True, installed=_installed("llama-cpp")) == "llama-cpp"


def test_auto_without_avx2_falls_back_or_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("integrations.embedded.engines._is_x86", lambda: True)
    assert resolve_engine("auto", avx2=False, installed=_installed("xllamacpp", "llama-cpp")) == "llama-cpp"
    with pytest.raises(MissingDependency) as info:
        resolve_engine("auto", avx2=False, installed=_installed("xllamacpp"))
    assert info.value.extra == "llama-cpp"
    assert "pip install 'ollama-integrations[llama-cpp]'" in str(info.value)


def test_an_explicit_engine_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("integrations.embedded.engines._is_x86", lambda: True)
    with pytest.raises(ConfigError, match="AVX2"):  # never a SIGILL at the first call
        resolve_engine("xllamacpp", avx2=False, installed=_installed("xllamacpp"))
    with pytest.raises(MissingDependency) as info:
        resolve_engine("llama-cpp", avx2=True, installed=_installed("xllamacpp"))
    assert info.value.extra == "llama-cpp"
    with pytest.raises(MissingDependency) as info:
        resolve_engine("auto", avx2=True, installed=_installed())
    assert info.value.extra == "embedded"
    with pytest.raises(ConfigError, match="unknown engine 'vllm'"):
        resolve_engine("vllm", avx2=True, installed=_installed("xllamacpp"))


def test_engine_and_ollama_limits_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_ENGINE", "llama-cpp")
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "4")
    monkeypatch.setenv("OLLAMA_MAX_LOADED_MODELS", "0")
    settings = EmbeddedSettings()
    assert (settings.engine, settings.num_parallel, settings.loaded_models_limit()) == ("llama-cpp", 4, 3)
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_ENGINE", "fast")
    with pytest.raises(ConfigError, match="OLLAMA_INTEGRATIONS_ENGINE = 'fast'"):
        EmbeddedSettings()


def test_runner_ends_are_worded_as_ollama_words_them() -> None:
    assert describe_exit(-signal.SIGKILL) == "signal: killed"
    assert describe_exit(-signal.SIGABRT) == "signal: aborted"
    assert describe_exit(-signal.SIGSEGV) == "signal: segmentation fault"
    assert describe_exit(2) == "exit status 2"


def _gguf(
    path: Path, arch: str = "llama", blocks: int | None = 1, tensors: int = 1, array_count: int | None = None
) -> Path:
    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kv = [s("general.architecture") + struct.pack("<I", 8) + s(arch)]
    if blocks is not None:
        kv.append(s(f"{arch}.block_count") + struct.pack("<II", 4, blocks))
    if array_count is not None:  # an array that claims more entries than the file holds
        kv.append(s("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, array_count) + struct.pack("<f", 0.0))
    table = b"".join(s(f"w{i}") + struct.pack("<IQQIQ", 2, 4, 8, 0, 0) for i in range(tensors))
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, tensors, len(kv)) + b"".join(kv) + table + b"\0" * 64)
    return path


def test_crafted_metadata_is_refused_before_any_load(tmp_path: Path) -> None:
    check_loadable(read_gguf(_gguf(tmp_path / "ok.gguf")))
    for name, kwargs, message in [
        ("zero.gguf", {"blocks": 0}, "llama.block_count is 0"),
        ("huge.gguf", {"blocks": 100000}, "llama.block_count is 100000"),
        ("none.gguf", {"blocks": None}, "llama.block_count is None"),
        ("arch.gguf", {"arch": "made-up"}, "'made-up' is not an architecture"),
        ("few.gguf", {"blocks": 30, "tensors": 2}, "only 2 tensors"),
    ]:
        with pytest.raises(GGUFError, match=message):
            check_loadable(read_gguf(_gguf(tmp_path / name, **kwargs)))


def test_arrays_longer_than_the_file_are_refused_without_allocating(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match=r"runs past the end of the file|more than the file holds"):
        read_gguf(_gguf(tmp_path / "array.gguf", array_count=1 << 40))


def test_schemas_are_closed_as_llama_cpp_closes_them() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}},
            "c": {"const": {"properties": {}}},
        },
        "anyOf": [{"properties": {"d": {}}}],
    }
    closed = closed_objects(schema)
    assert closed["additionalProperties"] is False
    assert closed["properties"]["a"]["additionalProperties"] is False
    assert closed["anyOf"][0]["additionalProperties"] is False
    assert closed["properties"]["c"] == {"const": {"properties": {}}}  # values stay values
    assert (
        closed_objects({"type": "object", "properties": {}, "additionalProperties": True})["additionalProperties"]
        is True
    )


def test_parsed_metadata_does_not_pile_up(tmp_path: Path) -> None:
    """Uploaded files' parsed metadata (tens of MB for a real vocabulary) stays bounded in memory."""
    from integrations.embedded import gguf

    for i in range(gguf.CACHE_ENTRIES + 4):
        read_gguf(_gguf(tmp_path / f"m{i}.gguf", tensors=1 + i))
    assert len(gguf._cache) <= gguf.CACHE_ENTRIES
    path = _gguf(tmp_path / "rewritten.gguf")
    read_gguf(path)
    _gguf(path, tensors=3)  # the same path, new content
    assert read_gguf(path).tensor_count == 3
    assert sum(k[0] == str(path) for k in gguf._cache) == 1


def _gguf_with_vocabulary(path: Path, words: int) -> Path:
    """A loadable GGUF whose metadata carries a ``words``-entry string array, a short one and a float array."""

    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kv = [
        s("general.architecture") + struct.pack("<I", 8) + s("llama"),
        s("llama.block_count") + struct.pack("<II", 4, 1),
        s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, words) + b"".join(s(f"tok{i}") for i in range(words)),
        s("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, words) + struct.pack(f"<{words}f", *range(words)),
        s("general.tags") + struct.pack("<IIQ", 9, 8, 2) + s("a") + s("b"),
    ]
    table = s("w0") + struct.pack("<IQQIQ", 2, 4, 8, 0, 0)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)) + b"".join(kv) + table + b"\0" * 64)
    return path


def test_a_vocabulary_is_read_past_not_kept_unless_asked_for(tmp_path: Path) -> None:
    from integrations.embedded.gguf import KEPT_ARRAY, LongArray

    path = _gguf_with_vocabulary(tmp_path / "vocab.gguf", 50_000)
    info = read_gguf(path)
    assert info.metadata["tokenizer.ggml.tokens"] == LongArray(50_000)
    assert info.metadata["tokenizer.ggml.scores"] == LongArray(50_000)
    assert info.metadata["general.tags"] == ["a", "b"], f"arrays of at most {KEPT_ARRAY} entries are kept"
    check_loadable(info)
    assert info.model_info()["tokenizer.ggml.tokens"] == []  # as Ollama's show without verbose
    full = read_gguf(path, full=True)
    assert full.metadata["tokenizer.ggml.tokens"][49_999] == "tok49999"
    assert full.model_info(verbose=True)["tokenizer.ggml.scores"][:3] == [0.0, 1.0, 2.0]


def test_a_vocabulary_cut_short_is_still_refused(tmp_path: Path) -> None:
    path = _gguf_with_vocabulary(tmp_path / "cut.gguf", 1000)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(GGUFError):
        read_gguf(path)
