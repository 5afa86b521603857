"""Loading labelled faces from the three formats FER2013 comes in.

- the .npz that `python -m training.pack_data build` writes (arrays `images`, `labels`, `usage`, optional `ferplus_votes`),
- Kaggle's `fer2013.csv` (columns `emotion`, `pixels`, `Usage`),
- class-folder trees, `<root>/<emotion>/*.png|jpg`, as Keras' `flow_from_directory` reads them
  (with `--split`, `<root>/<split>/<emotion>/...`, where Training may be spelled `train` and
  PublicTest/PrivateTest `test`/`val`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam.choices import Normalisation
from vcam.emotions import EMOTIONS
from vcam.errors import VcamError
from vcam.preprocess import FACE_SIZE, prepare_faces

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
SPLIT_FOLDERS = {"training": ("training", "train"), "publictest": ("publictest", "test", "val"),
                 "privatetest": ("privatetest", "test")}


class DataError(VcamError):
    """A data file that cannot be read; the message says which and why (one line, exit 2)."""


FERPLUS_TO_EMOTIONS = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
                       "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}
"""FER+ vote columns that are FER2013 classes; contempt, unknown and not-a-face are left out."""


@dataclass(frozen=True)
class FaceSet:
    """Faces as FER2013 stores them: uint8 (N, 48, 48) and labels 0..6 in EMOTIONS order, and,
    where the file has them, the FER+ votes for the seven classes, float (N, 7) in EMOTIONS order."""

    images: np.ndarray
    labels: np.ndarray
    votes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def inputs(self, normalisation: Normalisation = Normalisation.NONE) -> np.ndarray:
        """The model's input batch, made by the runtime's own preprocessing."""
        return prepare_faces(self.images, normalisation)

    def subset(self, index: np.ndarray) -> FaceSet:
        return FaceSet(self.images[index], self.labels[index], None if self.votes is None else self.votes[index])

    def targets(self, ferplus_weight: float = 0.0) -> np.ndarray:
        """Training targets (N, 7): FER2013's one-hot label, mixed with weight `ferplus_weight`
        with the FER+ vote distribution over the seven classes. A face with no vote for any of
        the seven (all contempt, unknown or not-a-face) keeps its one-hot label."""
        onehot = np.eye(len(EMOTIONS), dtype=np.float32)[self.labels]
        if ferplus_weight == 0:
            return onehot
        if self.votes is None:
            raise DataError("these faces have no FER+ votes (only an .npz built with FER+'s votes has them); "
                            "drop --ferplus-weight")
        counts = self.votes.sum(axis=1, keepdims=True)
        distribution = np.where(counts > 0, self.votes / np.maximum(counts, 1), onehot)
        return ((1 - ferplus_weight) * onehot + ferplus_weight * distribution).astype(np.float32)

    def sample(self, n: int, seed: int = 0) -> FaceSet:
        """A fixed random sample of n faces (all of them when n >= len)."""
        if n >= len(self):
            return self
        return self.subset(np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False)))


def load_faces(path: str | Path, split: str | None = None) -> FaceSet:
    """Load faces from a .npz, a Kaggle CSV or a class-folder tree; all rows when split is None."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; pass --data with a .npz, a fer2013.csv or a class-folder tree")
    if path.is_dir():
        faces = _load_folder(path, split)
    elif path.suffix.lower() == ".npz":
        faces = _load_npz(path, split)
    elif path.suffix.lower() == ".csv":
        faces = _load_csv(path, split)
    else:
        raise DataError(f"{path}: unsupported data file; use a .npz, a Kaggle fer2013.csv or a class-folder tree")
    if len(faces) == 0:
        raise DataError(f"{path}: no faces" + (f" in split {split!r}" if split else "") + "; check --split")
    return faces


def _load_npz(path: Path, split: str | None) -> FaceSet:
    try:
        with np.load(path, allow_pickle=False) as data:
            images, labels = data["images"], data["labels"]
            usage = data["usage"] if "usage" in data else None
            votes = _ferplus_votes(data) if "ferplus_votes" in data else None
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"{path}: not a FER2013 .npz with 'images' and 'labels' arrays ({err})") from None
    if images.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise DataError(f"{path}: images must be (N, 48, 48), found {images.shape}")
    if split is not None:
        if usage is None:
            raise DataError(f"{path}: has no 'usage' array to pick split {split!r} from; drop --split")
        keep = usage == split
        images, labels = images[keep], labels[keep]
        votes = None if votes is None else votes[keep]
    return FaceSet(images.astype(np.uint8), labels.astype(np.int64), votes)


def _ferplus_votes(data: np.lib.npyio.NpzFile) -> np.ndarray:
    """The FER+ votes of the seven FER2013 classes, in EMOTIONS order."""
    columns = [str(name) for name in data["ferplus_columns"]]
    order = {emotion: name for name, emotion in FERPLUS_TO_EMOTIONS.items()}
    try:
        picks = [columns.index(order[emotion]) for emotion in EMOTIONS]
    except ValueError:
        raise DataError(f"ferplus_columns {columns} lack one of {sorted(FERPLUS_TO_EMOTIONS)}") from None
    return data["ferplus_votes"][:, picks].astype(np.float32)


def _load_csv(path: Path, split: str | None) -> FaceSet:
    images, labels = [], []
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            # Kaggle's other copy (icml_face_data.csv) spells the headers " Usage" and " pixels".
            reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
            for line, row in enumerate(reader, start=2):
                if split is not None and row.get("Usage") != split:
                    continue
                pixels = np.array(row["pixels"].split(), dtype=np.uint8)
                if pixels.size != FACE_SIZE * FACE_SIZE:
                    raise DataError(f"{path}:{line}: {pixels.size} pixels, expected {FACE_SIZE * FACE_SIZE}")
                images.append(pixels.reshape(FACE_SIZE, FACE_SIZE))
                labels.append(int(row["emotion"]))
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a Kaggle fer2013.csv with columns emotion,pixels,Usage ({err})") from None
    return _stack(images, labels)


def _load_folder(root: Path, split: str | None) -> FaceSet:
    if split is not None:
        names = SPLIT_FOLDERS.get(split.lower(), (split.lower(),))
        found = [child for child in root.iterdir() if child.is_dir() and child.name.lower() in names]
        if not found:
            raise DataError(f"{root}: no folder for split {split!r} (looked for {', '.join(names)})")
        root = found[0]
    images, labels = [], []
    folders = {child.name.lower(): child for child in root.iterdir() if child.is_dir()}
    for label, emotion in enumerate(EMOTIONS):
        folder = folders.get(emotion)  # "Angry/" and "angry/" alike
        if folder is None:
            continue
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise DataError(f"{file}: unreadable image; remove or replace it")
            if image.shape != (FACE_SIZE, FACE_SIZE):
                image = cv2.resize(image, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
            images.append(image)
            labels.append(label)
    return _stack(images, labels)


def _stack(images: list[np.ndarray], labels: list[int]) -> FaceSet:
    if not images:
        return FaceSet(np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8), np.zeros(0, np.int64))
    return FaceSet(np.stack(images), np.array(labels, dtype=np.int64))
