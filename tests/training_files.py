"""Data files the training tests write: FER2013 as CSV and as a folder tree, a training log."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from training.data import load_faces
from vcam.emotions import EMOTIONS


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray, usage: str = "PublicTest") -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for image, label in zip(images, labels):
            writer.writerow([int(label), " ".join(str(v) for v in image.ravel()), usage])
    return path


def write_tree(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """`root/<emotion>/NNNN.png`, with the folder names capitalised as some copies have them."""
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / EMOTIONS[label].capitalize()
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{index:04d}.png"), image)
    return root


def write_log(path: Path, accuracies: list[float]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "accuracy", "val_accuracy"])
        writer.writerows([epoch, 0.5, accuracy] for epoch, accuracy in enumerate(accuracies))
    return path


def publictest_accuracy(net, fer_npz: Path, faces: int) -> float:
    """`net`'s accuracy on the sample of PublicTest that training.fast --val-limit FACES (seed 1)
    scores, rounded as result.json keeps it."""
    val = load_faces(fer_npz, "PublicTest").sample(faces, 1)
    return round(float(np.mean(net.predict(val.inputs(), verbose=0).argmax(1) == val.labels)), 4)
