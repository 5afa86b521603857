"""Opening .tflite models with LiteRT, with errors a user can act on."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ai_edge_litert.interpreter import Interpreter

from vcam.errors import ModelFileError
from vcam.resources import require_model_file


def open_interpreter(path: Path, num_threads: int) -> Interpreter:
    """A ready LiteRT interpreter for the model at `path`, with `num_threads` threads (Config.threads:
    a second shortens a call on an idle machine, but XNNPACK's workers spin while they wait for
    work, so the process spends more CPU a frame in total; python -m benchmarks.threads measures both)."""
    require_model_file(path)
    try:
        with _native_stderr_silenced():
            interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(f"model file {path} is corrupt or not a TFLite model ({reason}); reinstall vcam") from None
    return interpreter


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """LiteRT's C++ core logs "INFO: Created TensorFlow Lite XNNPACK delegate" straight to file
    descriptor 2 on every load; our own messages say what matters, so mute it while loading."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr (e.g. a windowed app): nothing to silence
        yield
        return
    sys.stderr.flush()
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
