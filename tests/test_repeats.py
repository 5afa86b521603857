"""vcam.repeats: when a camera frame repeats a settled picture, on the clip's real frames and the
faces the real pipeline finds in a photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.config import Config
from vcam.pipeline import Pipeline
from vcam import repeats as repeats_module
from vcam.repeats import CHANGING_AFTER, LOOK_EVERY, REFRESH_EVERY, RepeatedPicture, shows_the_same


@pytest.fixture(scope="module")
def live_frames(media: Path) -> list[np.ndarray]:
    """The clip's first 60 frames: a live picture, each frame unlike the one before."""
    capture = cv2.VideoCapture(str(media / "short_hamilton_clip.mp4"))
    frames = [capture.read()[1] for _ in range(60)]
    capture.release()
    return frames


@pytest.fixture(scope="module")
def frames(live_frames) -> list[np.ndarray]:
    return live_frames[:2]


def test_a_settled_picture_is_skipped_except_every_refresh_and_a_new_one_never(frames) -> None:
    first, second = frames
    assert not np.array_equal(first, second)
    repeats = RepeatedPicture()
    assert not repeats.may_skip(first.copy())
    repeats.ran([], [])
    assert not repeats.may_skip(first.copy()), "one run on a picture is not yet settled"
    repeats.ran([], [])  # the second run showed what the first did
    skipped = [repeats.may_skip(first.copy()) for _ in range(REFRESH_EVERY - 1)]
    assert all(skipped)
    assert not repeats.may_skip(first.copy()), "a settled still picture still runs every REFRESH_EVERY-th frame"
    repeats.ran([], [])
    assert repeats.may_skip(first.copy())
    assert not repeats.may_skip(second.copy()), "the next frame of the clip is a new picture"
    repeats.ran([], [])
    touched = second.copy()
    touched[100:116, 200:216] = 255 - touched[100:116, 200:216]  # a 16×16 change
    assert not repeats.may_skip(touched)
    repeats.ran([], [])
    repeats.ran([], [])
    repeats.forget()
    assert not repeats.may_skip(touched.copy()), "after a change of settings the picture runs again"


def test_runs_show_the_same_only_with_the_same_boxes_emojis_and_still_probabilities(media: Path) -> None:
    photo = cv2.imread(str(media / "two_people.jpg"))
    faces = Pipeline.from_config(Config()).process(photo.copy()).faces
    assert len(faces) == 2 and all(face.smoothed for face in faces)
    assert shows_the_same(faces, list(faces))
    moved = [faces[0].replace(smoothed=tuple(p + 0.05 * (i == 0) - 0.05 * (i == 1)
                                             for i, p in enumerate(faces[0].smoothed))), faces[1]]
    assert not shows_the_same(faces, moved), "probabilities still moving"
    assert not shows_the_same(faces, faces[:1]), "a face fewer"
    assert not shows_the_same(faces, [faces[0].replace(emotion="surprise" if faces[0].emotion != "surprise"
                                                       else "happy"), faces[1]])


def test_a_live_picture_is_compared_only_every_few_frames_and_a_freeze_is_still_skipped(live_frames, monkeypatch) -> None:
    compared = []
    real_sampled = repeats_module.sampled

    def counting(frame: np.ndarray) -> np.ndarray:
        compared.append(len(seen))
        return real_sampled(frame)

    monkeypatch.setattr(repeats_module, "sampled", counting)
    repeats, seen = RepeatedPicture(), []
    for frame in live_frames:
        assert not repeats.may_skip(frame.copy())
        repeats.ran([], [])
        seen.append(frame)
    assert compared[:CHANGING_AFTER] == list(range(CHANGING_AFTER)), "every frame is compared at first"
    later = [index for index in compared if index >= CHANGING_AFTER]
    assert later and np.diff(later).min() == LOOK_EVERY and len(later) <= (len(live_frames) - CHANGING_AFTER) / LOOK_EVERY + 1
    # The camera freezes on its last picture: noticed at the next comparison, then settled and skipped.
    frozen = live_frames[-1]
    skipped = []
    for _ in range(2 * LOOK_EVERY + 3):
        skipped.append(repeats.may_skip(frozen.copy()))
        if not skipped[-1]:
            repeats.ran([], [])
    assert skipped[-1] and skipped.index(True) <= 2 * LOOK_EVERY + 2
