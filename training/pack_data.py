"""FER2013 as the trainers read it: built once from the public files, sampled small for the
tests, and packed small to carry to another machine (a GPU box that lacks it):

    python -m training.pack_data build --csv fer2013.csv --ferplus fer2013new.csv --out data/fer2013.npz
    python -m training.pack_data sample --data data/fer2013.npz --out tests/data/fer2013-sample.npz
    python -m training.pack_data pack --out fer2013.kit.npz [--quality 75] [--max-mib 50]
    python -m training.pack_data unpack fer2013.kit.npz fer2013.npz

`build` joins Kaggle's fer2013.csv with the FER+ votes (fer2013new.csv, the same rows in the same
order) into one .npz: `images` uint8 (N, 48, 48), `labels`, `usage`, `row_index`, `ferplus_votes`
(N, 10) and `ferplus_columns`. `sample` keeps a fixed, small part of it (SAMPLE_PER_CLASS Training
faces of each class and SAMPLE_PUBLIC_TEST PublicTest faces drawn at random), in the same format.

The faces travel as WebP mosaics. Lossless they take 49.5 MiB, against the 70.6 MB .npz, and
`unpack` rebuilds an .npz with the same arrays, value for value. `--quality Q` packs the
Training faces lossy and keeps the rest (PublicTest, which the trainers score on) exact: at 75
the faces take 18.5 MiB, each Training face 3.2 grey levels off on average (80: 20.5 MiB, 2.6
levels). The shipped model reads the Training faces at 0.9770 exact and at 0.9711 packed at 75,
its top pick the same for 98.3 % of them; 12 epochs of vcam_net trained on them read 0.6247 on
PublicTest, against 0.6222 trained on the exact faces. `--max-mib` refuses a result over a size
your transfer allows, and says which quality to try.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from training.command import one_line_errors
from training.data import DataError
from training.recipe import DEFAULT_DATA, DEFAULT_DATA_NAME
from vcam.paths import atomic_output, require_output_folder

TILE = (20, 50)
"""Faces per mosaic: 20 rows of 50, a 960×2400 image."""
LOSSLESS = 101
"""OpenCV's WebP quality above 100: lossless."""


def encode_mosaics(images: np.ndarray, quality: int) -> list[np.ndarray]:
    """`images` (N, 48, 48) as WebP mosaics of TILE faces each, the last one padded with black."""
    import cv2

    rows, columns = TILE
    per_tile = rows * columns
    chunks = []
    for start in range(0, len(images), per_tile):
        tile = np.zeros((per_tile, *images.shape[1:]), np.uint8)
        part = images[start:start + per_tile]
        tile[:len(part)] = part
        mosaic = tile.reshape(rows, columns, *images.shape[1:]).transpose(0, 2, 1, 3).reshape(
            rows * images.shape[1], columns * images.shape[2])
        ok, encoded = cv2.imencode(".webp", mosaic, [cv2.IMWRITE_WEBP_QUALITY, quality])
        if not ok:
            raise DataError("OpenCV could not encode WebP; install an opencv-python wheel with WebP support")
        chunks.append(encoded.ravel())
    return chunks


def pack_faces(source: Path, out: Path, quality: int = LOSSLESS, lossy_split: str = "Training") -> int:
    """Write the arrays of the FER2013 .npz at `source` to `out`, the images as WebP mosaics,
    lossless unless `quality` is 100 or less; then only the faces of split `lossy_split` are
    lossy and the others (PublicTest) stay exact, so that scores read there are those of the
    real faces. Returns out's size in bytes."""
    try:
        data = dict(np.load(source))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {source} ({err}); pass the FER2013 .npz with --data") from None
    if "images" not in data or data["images"].ndim != 3:
        raise DataError(f"{source} has no images array of (N, 48, 48) faces; pass the FER2013 .npz with --data")
    images = data.pop("images")
    lossy = (data["usage"] == lossy_split if quality <= 100 and "usage" in data
             else np.zeros(len(images), bool))
    if not lossy.any():
        quality = LOSSLESS  # no face of that split: all stay exact, and the kit says so
    # The lossy faces first, then the exact ones, each group in mosaics of its own.
    order = np.concatenate([np.flatnonzero(lossy), np.flatnonzero(~lossy)])
    chunks = [*encode_mosaics(images[lossy], quality), *encode_mosaics(images[~lossy], LOSSLESS)]
    offsets = np.cumsum([0, *(chunk.size for chunk in chunks)])
    with atomic_output(out) as partial:  # keeps the .npz suffix, so NumPy adds none
        np.savez_compressed(partial, webp=np.concatenate(chunks), webp_offsets=offsets.astype(np.int64),
                            image_shape=np.asarray(images.shape, np.int64), webp_quality=np.int64(quality),
                            webp_order=order.astype(np.int64),
                            webp_groups=np.asarray([lossy.sum(), (~lossy).sum()], np.int64), **data)
    return out.stat().st_size


def unpack_faces(kit: Path, out: Path) -> None:
    """Rebuild the original .npz from a `pack_faces` file."""
    import cv2

    fix = "pack it again with python -m training.pack_data pack"
    try:
        with np.load(kit) as packed:
            data = {key: packed[key] for key in packed.files}
        webp, offsets, shape = data.pop("webp"), data.pop("webp_offsets"), tuple(data.pop("image_shape"))
        data.pop("webp_quality", None)
        order = data.pop("webp_order", np.arange(shape[0]))  # a kit from before the groups: one group, in order
        groups = data.pop("webp_groups", np.asarray([shape[0]]))
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise DataError(f"{kit} is not a packed faces file ({err}); {fix}") from None
    rows, columns = TILE
    per_tile = rows * columns
    tiles = []
    for start, end in zip(offsets[:-1], offsets[1:], strict=True):
        mosaic = cv2.imdecode(webp[start:end], cv2.IMREAD_GRAYSCALE)
        if mosaic is None or mosaic.shape != (rows * shape[1], columns * shape[2]):
            raise DataError(f"{kit} holds a damaged mosaic at bytes {start}-{end}; {fix}")
        tiles.append(mosaic.reshape(rows, shape[1], columns, shape[2]).transpose(0, 2, 1, 3).reshape(-1, *shape[1:]))
    parts, first = [], 0
    for size in groups:  # each group's mosaics, their padding dropped
        count = -(-int(size) // per_tile)
        parts.append(np.concatenate(tiles[first:first + count] or [np.zeros((0, *shape[1:]), np.uint8)])[:size])
        first += count
    if (first != len(tiles) or sum(map(len, parts)) != shape[0]
            or not np.array_equal(np.sort(order), np.arange(shape[0]))):
        raise DataError(f"{kit} holds {len(tiles)} mosaics for {shape[0]} faces; {fix}")
    images = np.empty((shape[0], *shape[1:]), np.uint8)
    images[order] = np.concatenate(parts)
    with atomic_output(out) as partial:  # keeps the .npz suffix, so NumPy adds none
        np.savez(partial, images=images, **data)


def packed_description(kit: Path) -> str:
    """Which of a kit's faces are lossy, in words."""
    with np.load(kit) as packed:
        quality = int(packed["webp_quality"]) if "webp_quality" in packed.files else LOSSLESS
        if quality == LOSSLESS:
            return "lossless"
        if "webp_groups" not in packed.files:  # packed before PublicTest stayed exact
            return f"all faces lossy, WebP quality {quality}, PublicTest's too; pack again for exact PublicTest faces"
        return f"Training faces lossy, WebP quality {quality}, the rest lossless"


FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                   "unknown", "NF")
"""The vote columns of FER+'s fer2013new.csv, in its order."""
SAMPLE_PER_CLASS = 100
"""Training faces of each class in the tests' sample."""
SAMPLE_PUBLIC_TEST = 700
"""PublicTest faces in the tests' sample, drawn at random (so in FER2013's own class proportions)."""
SAMPLE_SEED = 2013


def build_faces(fer_csv: Path, ferplus_csv: Path | None, out: Path, splits: list[str] | None = None) -> int:
    """Write Kaggle's fer2013.csv, joined row for row with FER+'s votes where given, to the .npz
    the trainers read; only the rows of `splits` when given. Returns the number of faces."""
    import csv

    from training.data import load_faces

    faces = load_faces(fer_csv)
    with fer_csv.open(newline="") as handle:
        reader = csv.reader(handle)
        column = [name.strip() for name in next(reader)].index("Usage")
        usage = np.array([row[column] for row in reader])
    images = faces.images
    arrays = {"images": images, "labels": faces.labels.astype(np.uint8), "usage": usage,
              "row_index": np.arange(len(images), dtype=np.int32)}
    if ferplus_csv is not None:
        arrays["ferplus_votes"] = read_ferplus_votes(ferplus_csv, len(images))
    keep = np.isin(usage, splits) if splits else np.ones(len(images), bool)
    if not keep.any():
        raise DataError(f"{fer_csv} has no rows of {', '.join(splits or [])}; check --splits "
                        f"(the file has {', '.join(sorted(set(usage)))})")
    arrays = {name: array[keep] for name, array in arrays.items()}
    if ferplus_csv is not None:
        arrays["ferplus_columns"] = np.array(FERPLUS_COLUMNS)
    with atomic_output(out) as partial:  # keeps the .npz suffix, so NumPy adds none
        np.savez_compressed(partial, **arrays)
    return int(keep.sum())


def read_ferplus_votes(path: Path, rows: int) -> np.ndarray:
    """The ten vote columns of FER+'s fer2013new.csv, uint8 (rows, 10), which must have one row
    for each row of fer2013.csv."""
    import csv

    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            votes = np.array([[int(row[name] or 0) for name in FERPLUS_COLUMNS] for row in reader], np.uint8)
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not FER+'s fer2013new.csv with columns {','.join(FERPLUS_COLUMNS)} ({err})") from None
    if len(votes) != rows:
        raise DataError(f"{path} has {len(votes)} rows and fer2013.csv {rows}; use the fer2013new.csv that "
                        "belongs to this fer2013.csv")
    return votes


def sample_faces(source: Path, out: Path, also_rows: tuple[int, ...] = ()) -> tuple[int, int]:
    """Write the tests' fixed sample of the FER2013 .npz at `source` to `out`: SAMPLE_PER_CLASS
    Training faces of each class and SAMPLE_PUBLIC_TEST PublicTest faces, and the faces of
    fer2013.csv's rows `also_rows` (faces a test is built on), every array kept, in the file's row
    order. Returns the counts of the two splits."""
    try:
        data = dict(np.load(source))
        usage, labels, row_index = data["usage"], data["labels"], data["row_index"]
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"cannot read {source} as a FER2013 .npz ({err}); pass it with --data") from None
    missing = sorted(set(also_rows) - set(row_index.tolist()))
    if missing:
        raise DataError(f"{source} has no faces of rows {', '.join(map(str, missing))}; pass the whole FER2013 .npz")
    rng = np.random.default_rng(SAMPLE_SEED)
    public = np.flatnonzero(usage == "PublicTest")
    if len(public) < SAMPLE_PUBLIC_TEST:
        raise DataError(f"{source} has {len(public)} PublicTest faces, fewer than the sample's "
                        f"{SAMPLE_PUBLIC_TEST}; pass the whole FER2013 .npz")
    chosen = [rng.choice(public, SAMPLE_PUBLIC_TEST, replace=False)]
    for label in range(int(labels.max()) + 1):
        rows = np.flatnonzero((usage == "Training") & (labels == label))
        if len(rows) < SAMPLE_PER_CLASS:
            raise DataError(f"{source} has {len(rows)} Training faces of class {label}, fewer than "
                            f"{SAMPLE_PER_CLASS}; pass the whole FER2013 .npz")
        chosen.append(rng.choice(rows, SAMPLE_PER_CLASS, replace=False))
    chosen.append(np.flatnonzero(np.isin(row_index, also_rows)))
    keep = np.unique(np.concatenate(chosen))
    with atomic_output(out) as partial:
        np.savez_compressed(partial, **{name: array[keep] if array.ndim and len(array) == len(usage) else array
                                        for name, array in data.items()})
    return int((usage[keep] == "Training").sum()), int((usage[keep] == "PublicTest").sum())


def require_suffix(out: Path, suffix: str) -> None:
    if out.suffix != suffix:
        raise DataError(f"{out} must end in {suffix}; name the output file so")
    require_output_folder(out)


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.pack_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    pack = commands.add_parser("pack", help="write the faces packed small into one .npz")
    pack.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the FER2013 .npz to pack")
    pack.add_argument("--out", type=Path, default=Path("fer2013.kit.npz"), help="the packed file (.npz)")
    pack.add_argument("--quality", type=int, metavar="Q",
                      help="pack the Training faces lossy, WebP quality Q from 1 to 100; the other faces stay "
                           "exact (75: 18.5 of 49.5 MiB, Training faces 3.2 grey levels off on average; "
                           "default lossless)")
    pack.add_argument("--max-mib", type=float, metavar="MIB",
                      help="refuse a packed file larger than this many MiB (and remove it), naming a quality to try")
    build = commands.add_parser("build", help="make the FER2013 .npz from Kaggle's fer2013.csv and FER+'s votes")
    build.add_argument("--csv", type=Path, required=True, help="Kaggle's fer2013.csv")
    build.add_argument("--ferplus", type=Path, help="FER+'s fer2013new.csv (the votes; leave out to build without them)")
    build.add_argument("--splits", nargs="+", metavar="SPLIT",
                       help="keep only these splits (Training PublicTest PrivateTest; default all)")
    build.add_argument("--out", type=Path, default=DEFAULT_DATA, help=f"the .npz to write (default {DEFAULT_DATA_NAME})")
    sample = commands.add_parser("sample", help="write the tests' small, fixed sample of the FER2013 .npz")
    sample.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the whole FER2013 .npz")
    sample.add_argument("--out", type=Path, required=True, help="the sample (.npz)")
    sample.add_argument("--also-rows", type=int, nargs="+", default=[], metavar="ROW",
                        help="also keep the faces of these rows of fer2013.csv (faces a test is built on)")
    unpack = commands.add_parser("unpack", help="rebuild the FER2013 .npz from a packed file")
    unpack.add_argument("kit", type=Path)
    unpack.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        for given in (args.csv, args.ferplus):
            if given is not None and not given.is_file():
                raise DataError(f"{given} does not exist; download it as docs/training.md says")
        require_suffix(args.out, ".npz")
        count = build_faces(args.csv, args.ferplus, args.out, args.splits)
        print(f"built {args.out} ({count} faces{', with FER+ votes' if args.ferplus else ''})")
        return 0
    if args.command == "sample":
        if not args.data.is_file():
            raise DataError(f"{args.data} does not exist; pass the whole FER2013 .npz with --data")
        require_suffix(args.out, ".npz")
        training_faces, public_faces = sample_faces(args.data, args.out, tuple(args.also_rows))
        print(f"sampled {training_faces} Training and {public_faces} PublicTest faces of {args.data} into {args.out}")
        return 0
    if args.command == "unpack":
        if not args.kit.is_file():
            raise DataError(f"{args.kit} does not exist; make it with python -m training.pack_data pack")
        require_suffix(args.out, ".npz")
        unpack_faces(args.kit, args.out)
        print(f"unpacked {args.kit} to {args.out} ({packed_description(args.kit)})")
        return 0
    if not args.data.is_file():
        raise DataError(f"{args.data} does not exist; pass the FER2013 .npz with --data")
    if args.quality is not None and not 1 <= args.quality <= 100:
        raise DataError(f"--quality must be from 1 to 100, not {args.quality}; leave it out for lossless faces")
    if args.max_mib is not None and not args.max_mib > 0:
        raise DataError(f"--max-mib must be more than 0, not {args.max_mib}")
    require_suffix(args.out, ".npz")
    size = pack_faces(args.data, args.out, LOSSLESS if args.quality is None else args.quality)
    if args.max_mib is not None and size > args.max_mib * 2**20:
        args.out.unlink()
        lower = 75 if args.quality is None else max(1, args.quality - 10)
        raise DataError(f"the packed faces take {size / 2**20:.1f} MiB, over --max-mib {args.max_mib:g}; "
                        f"pack again with --quality {lower}")
    print(f"packed {args.data.name} into {args.out} ({size / 2**20:.1f} MiB, {packed_description(args.out)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
