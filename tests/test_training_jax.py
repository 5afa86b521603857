"""Training under JAX without TensorFlow (as on a GPU machine with JAX only), loaded here."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from training import export
from training.data import load_faces

pytestmark = pytest.mark.training

JAX_TRAINING = """
import sys


class NoTensorFlow:  # as on the GPU machine, where TensorFlow is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError("No module named 'tensorflow'")


sys.meta_path.insert(0, NoTensorFlow())
import keras, numpy as np
from training import train
from training.data import load_faces
from training.models import load
assert keras.backend.backend() == "jax"
from training import compare
runs, data = sys.argv[1], sys.argv[2]
run_dir = runs + "/vcam_net"
recipe = ["--data", data, "--limit", "200", "--val-limit", "100", "--batch-size", "50", "--mixup", "0.2",
          "--erasing", "0.5"]
assert train.main([*recipe, "--model", "vcam_net", "--run-dir", run_dir, "--epochs", "1"]) == 0
# compare, as the GPU machine runs it: resumes the run for its second epoch, scores it with Keras.
assert compare.main([*recipe, "--runs", runs, "--models", "vcam_net", "--epochs", "2", "--no-latency",
                     "--score-limit", "100", "--out", runs + "/comparison.md"]) == 0
faces = load_faces(data, "PublicTest").sample(64)
np.save(run_dir + "/jax-probabilities.npy", load(run_dir + "/best.keras").predict(faces.inputs(), verbose=0))
from training import fast
assert fast.main(["--data", data, "--limit", "200", "--val-limit", "100", "--batch-size", "50", "--erasing", "0.5",
                  "--cutmix", "1.0", "--model", "vcam_net", "--epochs", "2", "--out", runs + "/fast"]) == 0
assert "tensorflow" not in sys.modules
"""


def test_training_runs_under_jax_without_tensorflow_and_the_model_loads_here(tmp_path: Path, fer_npz: Path) -> None:
    """The GPU machine has JAX and no TensorFlow: train there, load and export here."""
    from training import models

    runs = tmp_path / "runs"
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", JAX_TRAINING, str(runs), str(fer_npz)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    # training.fast compiles its augmentation into the training step there, which Keras' "auto"
    # would not: op by op, the GPU ran 0.5 s a step instead of 4 ms.
    assert "vcam_net: training step compiled with XLA" in done.stdout
    fast_result = json.loads((runs / "fast" / "result.json").read_text())
    assert fast_result["epochs"] == 2 and fast_result["cutmix"] == 1.0  # cutmix compiled in the step too
    run = runs / "vcam_net"
    with (run / "log.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]  # compare resumed the run
    row = json.loads((runs / "comparison.json").read_text())["rows"][0]
    assert row["model"] == "vcam_net" and row["ms_1_face"] is None and 0 <= row["accuracy"] <= 1

    faces = load_faces(fer_npz, "PublicTest").sample(64)
    jax_probabilities = np.load(run / "jax-probabilities.npy")
    assert np.isfinite(jax_probabilities).all()
    here = models.load(run / "best.keras").predict(faces.inputs(), verbose=0)
    assert np.abs(here - jax_probabilities).max() < 1e-4
    out = tmp_path / "emotion.tflite"
    assert export.main(["--model", str(run / "best.keras"), "--out", str(out), "--data", str(fer_npz)]) == 0
