"""training.pack_data: FER2013 built from its public files, sampled for the tests, packed small to carry to
another machine, and rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from training_files import write_csv

from training import pack_data
from training.data import load_faces

pytestmark = pytest.mark.training

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
    small_copy(fer_npz, source, np.arange(1400))
    kit = tmp_path / "kit.npz"
    assert pack_data.main(["pack", "--data", str(source), "--out", str(kit), "--max-mib", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "over --max-mib 0.01; pack again with --quality 75" in err and err.count("\n") == 1
    assert not kit.exists() and not list(tmp_path.glob(".*partial*"))
    assert pack_data.main(["pack", "--data", str(source), "--out", str(kit), "--max-mib", "10"]) == 0


def write_ferplus(path: Path, votes: np.ndarray, usage: np.ndarray) -> Path:
    """FER+'s fer2013new.csv for these votes, as Microsoft's FERPlus repository has it (a file name
    column that is empty for the faces it dropped)."""
    lines = ["Usage,Image name," + ",".join(pack_data.FERPLUS_COLUMNS)]
    for index, (row, split) in enumerate(zip(votes, usage)):
        name = "" if row[-1] == 10 else f"fer{index:07d}.png"
        lines.append(f"{split},{name}," + ",".join(str(int(vote)) for vote in row))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_build_joins_fer2013_csv_and_the_ferplus_votes_into_the_npz_the_trainers_read(tmp_path: Path,
                                                                                     fer_npz: Path, capsys) -> None:
    with np.load(fer_npz) as data:
        arrays = {key: data[key] for key in data.files}
    fer_csv = tmp_path / "fer2013.csv"
    write_csv(fer_csv, arrays["images"][:400], arrays["labels"][:400], "Training")
    text = fer_csv.read_text().splitlines()
    # The last 100 rows are PublicTest, as in the real file's order.
    fer_csv.write_text("\n".join(text[:301] + [line.replace(",Training", ",PublicTest") for line in text[301:]]) + "\n")
    usage = np.array(["Training"] * 300 + ["PublicTest"] * 100)
    ferplus = write_ferplus(tmp_path / "fer2013new.csv", arrays["ferplus_votes"][:400], usage)
    out = tmp_path / "data" / "fer2013.npz"
    out.parent.mkdir()
    assert pack_data.main(["build", "--csv", str(fer_csv), "--ferplus", str(ferplus), "--out", str(out)]) == 0
    assert f"built {out} (400 faces, with FER+ votes)" in capsys.readouterr().out
    with np.load(out) as built:
        np.testing.assert_array_equal(built["images"], arrays["images"][:400])
        np.testing.assert_array_equal(built["labels"], arrays["labels"][:400])
        np.testing.assert_array_equal(built["ferplus_votes"], arrays["ferplus_votes"][:400])
        np.testing.assert_array_equal(built["usage"], usage)
        np.testing.assert_array_equal(built["ferplus_columns"], arrays["ferplus_columns"])
    # What the trainers read from it: the splits, and FER+'s soft targets.
    public = load_faces(out, "PublicTest")
    assert len(public) == 100 and public.votes is not None
    np.testing.assert_array_equal(public.images, arrays["images"][300:400])
    # --splits keeps only the splits named; a split the file lacks is one line.
    assert pack_data.main(["build", "--csv", str(fer_csv), "--out", str(out), "--splits", "PublicTest"]) == 0
    assert len(load_faces(out)) == 100 and load_faces(out).votes is None
    assert pack_data.main(["build", "--csv", str(fer_csv), "--out", str(out), "--splits", "PrivateTest"]) == 2
    err = capsys.readouterr().err
    assert "has no rows of PrivateTest" in err and err.count("\n") == 1
    # Votes of another file (another row count) are refused, and nothing is written.
    short = write_ferplus(tmp_path / "short.csv", arrays["ferplus_votes"][:399], usage[:399])
    assert pack_data.main(["build", "--csv", str(fer_csv), "--ferplus", str(short), "--out", str(tmp_path / "x.npz")]) == 2
    assert "has 399 rows and fer2013.csv 400" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_sample_keeps_a_fixed_part_of_each_split_with_every_array(tmp_path: Path, fer_npz: Path, capsys) -> None:
    # The tests' sample is itself a whole file with as many Training faces as a sample takes, and
    # two PublicTest faces more: sampled again, with two rows asked for, it keeps every Training
    # face, 700 PublicTest faces and those two, each row with all its arrays, the same each time.
    wanted = [int(row) for row in np.load(fer_npz)["row_index"][-2:]]
    out, again = tmp_path / "sample.npz", tmp_path / "again.npz"
    for path in (out, again):
        assert pack_data.main(["sample", "--data", str(fer_npz), "--out", str(path), "--also-rows",
                               *map(str, wanted)]) == 0
    printed = capsys.readouterr().out
    assert "sampled 700 Training and 70" in printed and "PublicTest faces" in printed
    with np.load(out) as sample, np.load(again) as repeated, np.load(fer_npz) as whole:
        assert sorted(sample.files) == sorted(whole.files)
        public = sample["usage"] == "PublicTest"
        assert (~public).sum() == 700 and 700 <= public.sum() <= 702 and set(wanted) <= set(sample["row_index"])
        rows = np.searchsorted(whole["row_index"], sample["row_index"])
        for key in whole.files:
            expected = whole[key][rows] if key != "ferplus_columns" else whole[key]
            np.testing.assert_array_equal(sample[key], expected)
            np.testing.assert_array_equal(repeated[key], sample[key])
    # A row the file lacks is refused in one line.
    assert pack_data.main(["sample", "--data", str(fer_npz), "--out", str(tmp_path / "s.npz"),
                           "--also-rows", "99999"]) == 2
    assert "has no faces of rows 99999" in capsys.readouterr().err
    # A file with fewer faces than the sample takes is refused in one line.
    smaller = tmp_path / "smaller.npz"
    small_copy(fer_npz, smaller, np.arange(1000))
    assert pack_data.main(["sample", "--data", str(smaller), "--out", str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err
    assert "fewer than" in err and err.count("\n") == 1 and not (tmp_path / "s.npz").exists()


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
