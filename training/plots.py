"""Figures for training runs and evaluations (matplotlib, written as PNG)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vcam.emotions import EMOTIONS  # noqa: E402


def plot_confusion(matrix: np.ndarray, path: Path, title: str) -> None:
    """Row-normalised confusion matrix (rows: true class), with counts in each cell."""
    fig, ax = plt.subplots(figsize=(7, 6))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, f"{count}", ha="center", va="center", color="white" if rates[row, col] > 0.5 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(log_csv: Path, path: Path) -> None:
    """Loss and accuracy per epoch, training and validation, from Keras' CSVLogger file."""
    with log_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    epochs = [int(row["epoch"]) + 1 for row in rows]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", loss_ax), ("accuracy", acc_ax)):
        ax.plot(epochs, [float(row[key]) for row in rows], label="training")
        if rows and f"val_{key}" in rows[0]:
            ax.plot(epochs, [float(row[f"val_{key}"]) for row in rows], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
