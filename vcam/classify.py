"""Emotion classification: every face of a frame in one LiteRT call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vcam.calibration import read_calibration
from vcam.config import Config
from vcam.emotions import EMOTIONS
from vcam.errors import ModelFileError
from vcam.faces import Face
from vcam.litert import open_interpreter
from vcam.preprocess import FACE_SIZE, crop_face, face_views, prepare_faces, with_temperature
from vcam.resources import weights_dir

DEFAULT_MODEL = "emotion.tflite"


class EmotionModel:
    """The FER2013 emotion CNN. `classify(frame, faces)` returns the faces with 7 probabilities
    each, in EMOTIONS order (angry, disgust, fear, happy, sad, surprise, neutral).

    `views` > 1 also runs views of every face (2: its mirror image; 10: corner crops too, see
    `face_views`) in the same call and averages the outputs: what `python -m training.evaluate
    --tta flip|crops` scores.
    """

    def __init__(self, model_path: Path | None = None, num_threads: int = Config.threads, views: int = 1) -> None:
        self.path = model_path or weights_dir() / DEFAULT_MODEL
        self.views = views
        self._interpreter = open_interpreter(self.path, num_threads)
        input_details = self._interpreter.get_input_details()[0]
        output_details = self._interpreter.get_output_details()[0]
        takes = tuple(int(v) for v in input_details["shape"])
        gives = tuple(int(v) for v in output_details["shape"])
        if takes[1:] != (FACE_SIZE, FACE_SIZE, 1) or gives[-1] != len(EMOTIONS):
            raise ModelFileError(
                f"model file {self.path} takes {takes} and gives {gives},"
                f" not 48×48×1 faces to {len(EMOTIONS)} emotions; use an emotion model exported by training.export"
            )
        self._input, self._output = input_details["index"], output_details["index"]
        self._batch = int(input_details["shape"][0])
        try:  # the crops are normalised as the model's training normalised them
            calibration = read_calibration(self.path)
        except ValueError as err:
            raise ModelFileError(str(err)) from None
        self.temperature, self.normalisation = calibration.temperature, calibration.normalisation

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (N, 7) for a batch made by `prepare_faces` with the model's
        `normalisation`."""
        if len(inputs) == 0:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        batch = np.concatenate(face_views(inputs, self.views)) if self.views > 1 else inputs
        if len(batch) != self._batch:
            # Resizing reallocates; a stable number of faces keeps the same buffers frame after frame.
            self._interpreter.resize_tensor_input(self._input, list(batch.shape), strict=False)
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(batch, dtype=np.float32))
        self._interpreter.invoke()
        probabilities = self._interpreter.get_tensor(self._output).copy()
        if self.views > 1:
            probabilities = probabilities.reshape(self.views, len(inputs), -1).mean(axis=0)
        return with_temperature(probabilities, self.temperature)

    def classify(self, frame: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        if not faces:
            return []
        crops = [crop_face(frame, face.box, face.eyes) for face in faces]
        probabilities = self.predict(prepare_faces(crops, self.normalisation))
        return [face.replace(probabilities=tuple(float(p) for p in row)) for face, row in zip(faces, probabilities)]
