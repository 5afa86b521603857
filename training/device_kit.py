"""Train on a lent GPU machine, which has JAX and no TensorFlow or Keras, and to which only
64 MiB of files travel with the repository.

Here, once (writes `.device/`, which git ignores: the faces packed small, and Keras' wheels;
with the shipped vcam_deep in the repository, lossless faces no longer fit, see below):

    python -m training.device_kit pack --quality 75

There, through the device tool, with `carry: [".device"]`; training/device.sh installs the
wheels, unpacks the faces to /tmp/fer2013.npz and runs its arguments under KERAS_BACKEND=jax.
One command trains the three nets, scores them with Keras and sends back the table's figures
and our net's weights without optimizer state (files in $OUT come back; folders below it
deeper than two do not, so the runs stay in /tmp):

    sh training/device.sh sh -c 'python3 -m training.compare --data /tmp/fer2013.npz --runs /tmp/runs \
        --no-latency --out $OUT/comparison.md --epochs 60 &&
        python3 -m training.device_kit slim /tmp/runs/vcam_net/best.keras $OUT/vcam_net.keras'

Then here: `python -m training.compare --rows comparison.json --out comparison.md` times each
net with LiteRT, and `python -m training.export --model vcam_net.keras --quantize dynamic`
ships the net. Keep float32 there (TF32 on the GPU): under JAX on this CPU, XLA's jitted
bfloat16 inference gave NaN (eager was finite), so mixed_bfloat16 is for TensorFlow here.

training.compare trains with training.train, which under JAX augments each batch eagerly
outside the compiled step. `sh training/device.sh sh training/gpu_runs.sh` trains with
training.fast instead, augmentation compiled in: 1 s an epoch for vcam_deep on the H200. That
is how the shipped model was made.

The faces travel as WebP mosaics. Lossless they take 49.5 MiB, against the 70.6 MB .npz of
../shared/data, and `unpack` rebuilds an .npz with the same arrays, value for value. With the
shipped vcam_deep the repository's files take 39.7 MiB, and the two together are over the
limit. `pack --quality Q` packs the Training faces lossy and keeps the rest (PublicTest, which
training.fast scores on) exact: at 75 the faces take 18.5 MiB, 61.0 MiB in all with the
wheels and the repository, each Training face 3.2 grey levels off on average (80: 20.5 MiB,
63.0 MiB in all, 2.6 levels). `pack` prints the total. The shipped model reads the Training faces
at 0.9770 exact and at 0.9711 packed at 75, its top pick the same for 98.3 % of them; 12 epochs of
vcam_net trained on them read 0.6247 on PublicTest, against 0.6222 trained on the exact faces.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from training.data import DataError
from training.train import DEFAULT_DATA
from vcam.errors import MediaError
from vcam.media import atomic_output, require_output_folder

KIT = Path(".device")
FACES = "faces.kit.npz"
TILE = (20, 50)
"""Faces per mosaic: 20 rows of 50, a 960×2400 image."""
DEVICE_PYTHON = "3.12"
WHEELS = ("keras", "namex", "optree", "typing_extensions")
"""What the GPU machine's image lacks of Keras and its dependencies (it has absl-py, h5py,
ml-dtypes, rich, packaging, NumPy, OpenCV and matplotlib)."""


LOSSLESS = 101
"""OpenCV's WebP quality above 100: lossless."""
DEVICE_LIMIT = 64 * 2**20
"""What the device tool sends in one call: the repository's files and the carried paths."""


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

    fix = "pack it again with python -m training.device_kit pack"
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


def repository_bytes(root: Path) -> int | None:
    """The size of the files the device tool sends from the checkout at `root`: those git tracks
    and the untracked ones it does not ignore; None when git cannot say."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                                capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sum((root / name).stat().st_size for name in listed.decode().split("\0")
               if name and (root / name).is_file())


PIECE = 15 * 2**20
"""The device tool returns files of at most 16 MiB, at most 8 of them and 64 MiB in all."""


def send_runs(runs: Path, names: list[str], out: Path, room: int = 60 * 2**20, files: int = 6) -> list[str]:
    """Pack the training.fast runs `names` in `runs` (each RUNS/NAME/ with NAME.log and NAME.rc
    beside it) into `out` for the device tool to return: logs.tar.gz with each run's output,
    log.csv and result.json; each net, best PublicTest accuracy first, in PIECE-sized files
    NAME.model.keras.part-aa, -ab... (a run without a result sends its fallback.keras, if any)
    while `room` bytes and `files` files last; and summary.txt. Returns the summary's lines."""
    import json
    import tarfile

    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / "logs.tar.gz", "w:gz") as logs:
        for name in names:
            for path in (runs / f"{name}.log", runs / name / "log.csv", runs / name / "result.json"):
                if path.is_file():
                    logs.add(path, arcname=str(path.relative_to(runs)))
    results = []
    for name in names:
        folder, rc = runs / name, runs / f"{name}.rc"
        status = rc.read_text().strip() if rc.is_file() else "?"
        try:
            result = json.loads((folder / "result.json").read_text())
        except (OSError, ValueError):
            result = {}
        # model.keras is whole only once result.json, written after it, exists.
        model = folder / "model.keras" if result else folder / "fallback.keras"
        results.append((result.get("val_accuracy", -1.0), name, status, model, result))
    lines = []
    for _, name, status, model, result in sorted(results, key=lambda row: row[0], reverse=True):
        lines.append(f"{name} (exit {status}): {json.dumps(result) if result else 'no result; see its log'}")
        if not model.is_file():
            continue
        data = model.read_bytes()
        parts = [data[start:start + PIECE] for start in range(0, len(data), PIECE)]
        if len(data) > room or len(parts) > files:
            lines.append(f"  {model.name} ({len(data):,} bytes) left behind: no room")
            continue
        room, files = room - len(data), files - len(parts)
        for index, part in enumerate(parts):
            (out / f"{name}.{model.name}.part-a{chr(97 + index)}").write_bytes(part)
        lines.append(f"  sent {model.name} as {len(parts)} piece(s), {len(data):,} bytes")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    return lines


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def download_wheels(folder: Path) -> list[Path]:
    """Keras and the dependencies the GPU machine lacks, as wheels for its Python, at the
    versions installed here (so the .keras files it writes load here)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pins = [f"{name}=={version(name)}" for name in WHEELS]
    except PackageNotFoundError as err:
        raise DataError(f"{err.name} is not installed here; pip install -e '.[train]' first") from None
    platforms = [arg for tag in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                                 "manylinux2014_x86_64") for arg in ("--platform", tag)]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as download:
        fresh = Path(download) / "wheels"
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                               "--python-version", DEVICE_PYTHON, "--implementation", "cp", *platforms,
                           "-d", str(fresh), *pins], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no output"]
            raise DataError(f"pip could not download {' '.join(pins)} ({lines[-1]}); check the package index")
        if folder.exists():
            shutil.rmtree(folder)
        shutil.move(fresh, folder)  # the old wheels stay until the new ones are all here
    return sorted(folder.glob("*.whl"))


def require_suffix(out: Path, suffix: str) -> None:
    if out.suffix != suffix:
        raise DataError(f"{out} must end in {suffix}; name the output file so")
    require_output_folder(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.device_kit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    pack = commands.add_parser("pack", help="write the kit folder: packed faces and wheels")
    pack.add_argument("--data", type=Path, default=DEFAULT_DATA)
    pack.add_argument("--out", type=Path, default=KIT)
    pack.add_argument("--no-wheels", action="store_true", help="pack the faces only")
    pack.add_argument("--quality", type=int, metavar="Q",
                      help="pack the Training faces lossy, WebP quality Q from 1 to 100, when the kit and the "
                           "repository are over the device tool's 64 MiB; the other faces stay exact (75: 18.5 of "
                           "49.5 MiB, Training faces 3.2 grey levels off on average; default lossless)")
    unpack = commands.add_parser("unpack", help="rebuild the FER2013 .npz from a packed file")
    unpack.add_argument("kit", type=Path)
    unpack.add_argument("out", type=Path)
    send = commands.add_parser("send", help="pack training.fast runs into a folder for the device tool to return")
    send.add_argument("runs", type=Path, help="the folder holding NAME/, NAME.log and NAME.rc of each run")
    send.add_argument("out", type=Path, help="the folder that comes back ($OUT)")
    send.add_argument("names", nargs="+", help="the runs to send")
    slim = commands.add_parser("slim", help="save a checkpoint's model without its optimizer state (a third the size)")
    slim.add_argument("model", type=Path)
    slim.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "send":
            if not args.runs.is_dir():
                raise DataError(f"{args.runs} is not a folder; pass the folder the runs wrote to")
            if args.out.exists() and not args.out.is_dir():
                raise DataError(f"{args.out} is a file; pass a folder")
            print("\n".join(send_runs(args.runs, args.names, args.out)))
            return 0
        if args.command == "slim":
            from training.models import load

            if not args.model.is_file():
                raise DataError(f"{args.model} does not exist; pass the best.keras a training run saved")
            require_suffix(args.out, ".keras")
            try:
                load(args.model).save(args.out)  # computing in float32, as training.export saves it
            except (OSError, ValueError) as err:
                raise DataError(f"cannot read {args.model} ({str(err).splitlines()[0]}); pass a .keras file "
                                "a training run saved") from None
            print(f"saved {args.out} ({args.out.stat().st_size:,} bytes) from {args.model}")
            return 0
        if args.command == "unpack":
            if not args.kit.is_file():
                raise DataError(f"{args.kit} does not exist; run python -m training.device_kit pack and carry it")
            require_suffix(args.out, ".npz")
            unpack_faces(args.kit, args.out)
            print(f"unpacked {args.kit} to {args.out} ({packed_description(args.kit)})")
            return 0
        if not args.data.is_file():
            raise DataError(f"{args.data} does not exist; pass the FER2013 .npz with --data")
        if args.out.exists() and not args.out.is_dir():
            raise DataError(f"{args.out} is a file; pass a folder with --out")
        if args.quality is not None and not 1 <= args.quality <= 100:
            raise DataError(f"--quality must be from 1 to 100, not {args.quality}; leave it out for lossless faces")
        args.out.mkdir(parents=True, exist_ok=True)
        size = pack_faces(args.data, args.out / FACES, LOSSLESS if args.quality is None else args.quality)
        print(f"packed {args.data.name} into {args.out / FACES} ({size / 2**20:.1f} MiB, "
              f"{packed_description(args.out / FACES)})")
        if not args.no_wheels:
            wheels = download_wheels(args.out / "wheels")
            print(f"wheels for Python {DEVICE_PYTHON}: {', '.join(wheel.name for wheel in wheels)}")
        repository = repository_bytes(Path(__file__).resolve().parents[1])
        if repository is not None:
            total = repository + folder_bytes(args.out)
            lower = 75 if args.quality is None else max(1, args.quality - 10)
            verdict = ("fits" if total <= DEVICE_LIMIT else
                       f"is over it; pack again with --quality {lower}, or make the checkout smaller")
            print(f"the kit and the repository's files: {total / 2**20:.1f} MiB of the device tool's "
                  f"{DEVICE_LIMIT / 2**20:.0f} MiB, which {verdict}")
    except (DataError, MediaError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
