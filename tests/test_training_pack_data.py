"""training.pack_data: FER2013's faces packed small to carry to another machine, and rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training import pack_data
from training.data import load_faces


def small_copy(fer_npz: Path, out: Path, rows: np.ndarray) -> dict[str, np.ndarray]:
    with np.load(fer_npz) as data:
        arrays = {key: data[key][rows] for key in data.files if key != "ferplus_columns"}
        arrays["ferplus_columns"] = data["ferplus_columns"]
    np.savez(out, **arrays)
    return arrays


def test_pack_data_packs_the_faces_small_and_unpacks_them_exactly(tmp_path: Path, fer_npz: Path) -> None:
    source = tmp_path / "small.npz"
    arrays = small_copy(fer_npz, source, np.arange(1234))
    packed = tmp_path / "kit.npz"
    assert pack_data.main(["pack", "--data", str(source), "--out", str(packed)]) == 0
    assert packed.stat().st_size < 0.85 * arrays["images"].nbytes  # lossless WebP: about 70 %
    rebuilt = tmp_path / "rebuilt.npz"
    assert pack_data.main(["unpack", str(packed), str(rebuilt)]) == 0
    with np.load(rebuilt) as data:
        assert sorted(data.files) == sorted(arrays)
        for key, value in arrays.items():
            np.testing.assert_array_equal(data[key], value)
            assert data[key].dtype == value.dtype
    assert len(load_faces(rebuilt, "Training")) == int((arrays["usage"] == "Training").sum()) > 0


def test_pack_data_packs_lossy_faces_smaller_when_asked(tmp_path: Path, fer_npz: Path, capsys) -> None:
    with np.load(fer_npz) as data:
        # 1,000 Training faces around 600 of PublicTest, so that each group fills more than one mosaic
        rows = np.concatenate([np.arange(500), np.flatnonzero(data["usage"] == "PublicTest")[:600], np.arange(500, 1000)])
    source = tmp_path / "small.npz"
    arrays = small_copy(fer_npz, source, rows)
    sizes = {}
    for quality in (None, 85):
        kit = tmp_path / f"kit-{quality}.npz"
        assert pack_data.main(["pack", "--data", str(source), "--out", str(kit),
                               *([] if quality is None else ["--quality", str(quality)])]) == 0
        sizes[quality] = kit.stat().st_size
    assert sizes[85] < 0.75 * sizes[None]
    capsys.readouterr()
    rebuilt = tmp_path / "rebuilt.npz"
    assert pack_data.main(["unpack", str(tmp_path / "kit-85.npz"), str(rebuilt)]) == 0
    assert "(Training faces lossy, WebP quality 85, the rest lossless)" in capsys.readouterr().out
    with np.load(rebuilt) as data:
        assert sorted(data.files) == sorted(arrays)
        for key, value in arrays.items():
            if key != "images":
                np.testing.assert_array_equal(data[key], value)
        difference = np.abs(data["images"].astype(int) - arrays["images"])
    training = arrays["usage"] == "Training"
    assert 0.5 < difference[training].mean() < 4  # measured on 10,000 faces: 2.1 grey levels
    assert not difference[~training].any()  # PublicTest's faces, the ones scored there, stay exact
    # A kit packed lossy before PublicTest stayed exact says so; one with no Training faces is lossless.
    old_kit = tmp_path / "old.npz"
    with np.load(tmp_path / "kit-85.npz") as packed:
        np.savez(old_kit, **{key: packed[key] for key in packed.files if key not in ("webp_order", "webp_groups")})
    assert pack_data.packed_description(old_kit).startswith("all faces lossy, WebP quality 85")
    no_training = tmp_path / "public-test.npz"
    np.savez(no_training, **{key: value[~training] if len(value) == len(training) else value
                              for key, value in arrays.items()})
    assert pack_data.main(["pack", "--data", str(no_training), "--out", str(tmp_path / "kit-pt.npz"),
                           "--quality", "85"]) == 0
    assert "MiB, lossless)" in capsys.readouterr().out


def test_pack_data_refuses_a_result_over_the_size_asked_and_names_a_quality(tmp_path: Path, fer_npz: Path,
                                                                          capsys) -> None:
    source = tmp_path / "small.npz"
    small_copy(fer_npz, source, np.arange(2000))
    kit = tmp_path / "kit.npz"
    assert pack_data.main(["pack", "--data", str(source), "--out", str(kit), "--max-mib", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "over --max-mib 0.01; pack again with --quality 75" in err and err.count("\n") == 1
    assert not kit.exists() and not list(tmp_path.glob(".*partial*"))
    assert pack_data.main(["pack", "--data", str(source), "--out", str(kit), "--max-mib", "10"]) == 0


@pytest.mark.parametrize("make_argv, message", [
    (lambda t, bad, none: ["unpack", str(t / "none.npz"), str(t / "out.npz")], "make it with python -m training.pack_data pack"),
    (lambda t, bad, none: ["pack", "--data", str(t / "none.npz"), "--out", str(t / "kit.npz")], "does not exist"),
    (lambda t, bad, none: ["pack", "--data", str(none), "--out", str(t / "kit.npz")], "has no images array"),
    (lambda t, bad, none: ["pack", "--data", str(none), "--out", str(t / "kit")], "must end in .npz"),
    (lambda t, bad, none: ["pack", "--data", str(none), "--out", str(t / "kit.npz"), "--quality", "0"],
     "--quality must be from 1 to 100"),
    (lambda t, bad, none: ["pack", "--data", str(none), "--out", str(t / "kit.npz"), "--max-mib", "-1"],
     "--max-mib must be more than 0"),
    (lambda t, bad, none: ["unpack", str(bad), str(t / "out.npz")], "is not a packed faces file"),
    (lambda t, bad, none: ["unpack", str(none), str(t / "out")], "must end in .npz"),
])
def test_pack_data_says_what_is_wrong_in_one_line(tmp_path: Path, capsys, make_argv, message: str) -> None:
    no_images = tmp_path / "no-images.npz"
    np.savez(no_images, labels=np.zeros(3, np.uint8))
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    assert pack_data.main(make_argv(tmp_path, garbage, no_images)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not list(tmp_path.glob(".*partial*"))  # nothing half-written is left
