"""LiteRT latency of an emotion model on this machine: with 2 threads by default, as the model
card's figures were timed, or `--threads 1` as the app now runs it.

    python -m training.latency --model weights/emotion.tflite

Prints the median and 95th-percentile time of one call for batches of 1, 4 and 8 faces (or
--batches N ...: 8 and 40 are 4 faces with flip and with crops test-time augmentation).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from training.command import one_line_errors
from training.data import DataError


def measure(model: Path, batch: int, repeats: int, threads: int) -> tuple[float, float]:
    """Median and p95 milliseconds per call for `batch` faces."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model), num_threads=threads)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [batch, 48, 48, 1], strict=False)
    interpreter.allocate_tensors()
    faces = np.random.default_rng(0).random((batch, 48, 48, 1), dtype=np.float32)
    timings = []
    for attempt in range(repeats + 10):
        began = time.perf_counter()
        interpreter.set_tensor(index, faces)
        interpreter.invoke()
        if attempt >= 10:  # the first calls warm caches and XNNPACK
            timings.append((time.perf_counter() - began) * 1000)
    return float(np.median(timings)), float(np.percentile(timings, 95))


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("weights/emotion.tflite"))
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8], metavar="N", help="batch sizes to time")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        raise DataError(f"{args.model} does not exist; pass a .tflite model")
    if min(args.batches) < 1:
        raise DataError(f"batch sizes must be 1 or more, not {min(args.batches)}")
    for batch in args.batches:
        median, p95 = measure(args.model, batch, args.repeats, args.threads)
        print(f"{batch} face{'s' * (batch > 1)}: median {median:.2f} ms, p95 {p95:.2f} ms, {median / batch:.2f} ms per face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
