"""Export a trained .keras model to the .tflite file the app runs, and prove they agree.

    python -m training.export --model ~/.cache/vcam-runs/vcam_net/best.keras --out weights/emotion.tflite \\
        --quantize dynamic

Writes OUT and, beside it, the .keras it came from without its optimizer state (same name,
.keras suffix). The batch dimension stays dynamic, so the app classifies all faces of a frame
in one call. Nothing is replaced unless LiteRT's outputs equal Keras' within 1e-4 (float32), or,
quantized, pick the same emotion on at least 97 % of the faces.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from training.command import one_line_errors
from training.data import DataError, load_faces
from training.evaluate import predict
from training.recipe import DEFAULT_DATA
from vcam.paths import require_output_folder

TOLERANCE = 1e-4


QUANTIZATIONS = ("none", "float16", "dynamic")
"""none: float32 weights. float16: weights stored as float16. dynamic: weights as int8, computed
with int8 kernels where LiteRT has them (its "dynamic range" quantization; no data needed)."""
AGREEMENT = 0.97
"""A quantized export must pick the same emotion as Keras on at least this share of the faces
that Keras is DECIDED about."""
DECIDED = 0.05
"""A face the Keras model is decided about: its top two probabilities at least this far apart.
On a near tie, a difference far under any that matters flips the pick: a model trained for two
epochs on 200 faces reads most faces almost alike, and its int8 export, 1.1e-3 from Keras at
most, picked another emotion on 7 % of them on one CPU and on none on another."""


def export_tflite(keras_path: Path, out: Path, keras_out: Path, quantize: str = "none") -> int:
    """Convert the model at `keras_path` to `out`, and save it without its optimizer state (a
    third of the size), computing in float32 whatever precision it trained in, as `keras_out`;
    returns out's size."""
    from training.models import load

    model = load(keras_path)  # a net trained in mixed precision is exported computing in float32
    if quantize == "none":
        model.export(str(out), format="litert", verbose=False)
    else:
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        out.write_bytes(converter.convert())
    model.save(keras_out)
    return out.stat().st_size


def max_difference(keras_path: Path, tflite_path: Path, inputs: np.ndarray) -> float:
    """Largest absolute difference between the Keras and the LiteRT outputs on `inputs`."""
    return float(np.abs(predict(tflite_path, inputs) - predict(keras_path, inputs)).max())


def agreement(keras_path: Path, tflite_path: Path, inputs: np.ndarray) -> float:
    """Share of the `inputs` that the Keras model is DECIDED about on which the two models pick the
    same emotion (`same_picks`)."""
    return same_picks(predict(keras_path, inputs), predict(tflite_path, inputs))


def same_picks(reference: np.ndarray, other: np.ndarray) -> float:
    """Share of the rows (faces × emotions) that `reference` is DECIDED about on which `other`
    picks the same emotion; 1 where it is decided about none."""
    top_two = np.sort(reference, axis=1)[:, -2:]
    decided = top_two[:, 1] - top_two[:, 0] >= DECIDED
    if not decided.any():
        return 1.0
    return float((other.argmax(axis=1) == reference.argmax(axis=1))[decided].mean())


class UnfaithfulExport(Exception):
    """LiteRT's outputs differ from Keras' beyond the tolerance; nothing was replaced."""


def export_checked(model: Path, out: Path, faces, quantize: str = "none") -> str:
    """Export the .keras `model` to `out` (and its float32 .keras beside it) if LiteRT agrees
    with Keras on a sample of `faces`; returns the summary line, or raises UnfaithfulExport
    with `out` unchanged."""
    faces = faces.sample(256)
    # Export beside the target and check before replacing anything: a failed export never
    # overwrites a working model.
    partial = out.with_name(f".{out.stem}.partial.tflite")
    partial_keras = partial.with_suffix(".keras")
    keras_copy = out.with_suffix(".keras")
    try:
        size = export_tflite(model, partial, partial_keras, quantize)
        difference = max_difference(model, partial, faces.inputs())
        same = agreement(model, partial, faces.inputs())
        if (difference > TOLERANCE and quantize == "none") or same < AGREEMENT:
            raise UnfaithfulExport(f"LiteRT and Keras outputs differ by up to {difference:.2e} and agree on "
                                   f"{same:.1%} of the faces Keras is decided about; the export is not faithful, {out} is unchanged")
        os.replace(partial_keras, keras_copy)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
        partial_keras.unlink(missing_ok=True)
    return (f"exported {out} ({size:,} bytes{'' if quantize == 'none' else ', ' + quantize + ' quantized'})"
            f" and {keras_copy}; on {len(faces)} faces max |LiteRT − Keras| = {difference:.2e}, same emotion {same:.1%} (of the faces Keras is decided about)")


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="the trained .keras file")
    parser.add_argument("--out", type=Path, default=Path("weights/emotion.tflite"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="faces to compare the two models on")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                        help="store the weights as float16 or int8 (dynamic); checked by agreement with Keras "
                             f"(at least {100 * AGREEMENT:.0f} %% of the faces Keras is decided about) instead of equal outputs")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        raise DataError(f"{args.model} does not exist; pass the .keras file a training run saved")
    require_output_folder(args.out)
    try:
        print(export_checked(args.model, args.out, load_faces(args.data, args.split), args.quantize))
    except UnfaithfulExport as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
