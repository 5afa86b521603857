"""Faces too small to read: the confidence a face needs grows as it shrinks, and below the
smallest readable size no reading is shown (vcam/readable.py, the tracker, annotate's JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.test_track import face_at
from vcam.cli import main
from vcam.config import Config
from vcam.emotions import EMOTIONS
from vcam.readable import Readability
from vcam.track import Tracker, TrackerSettings, tracker_settings

SURE_AT_ONCE = dict(settle_seconds=0.0, dwell=0.0)


def shown_after(settings: TrackerSettings, side: float, happy: float, frames: int = 30):
    """The face as the tracker shows it after `frames` frames of the same reading."""
    tracker = Tracker(settings)
    for _ in range(frames):
        face = tracker.update([face_at(10, 10, side=side, probabilities={"happy": happy})])[0]
    return face


def test_the_confidence_a_face_needs_grows_as_it_shrinks() -> None:
    rule = Readability()
    widths = np.arange(rule.smallest, 200.0)
    needs = rule.needs(widths)
    assert np.all(np.diff(needs) <= 0), "a larger face never needs more"
    assert needs[0] == pytest.approx(rule.small_needs) and needs[-1] == pytest.approx(rule.unsure_below)
    assert rule.needs(rule.smallest - 0.5) > 1.0, "under the smallest size no reading is enough"
    assert Readability(smallest=0).needs(3.0) == rule.unsure_below, "0 turns the size rule off"


def test_a_tiny_face_read_surely_still_shows_the_unsure_emoji() -> None:
    tiny = shown_after(TrackerSettings(**SURE_AT_ONCE), side=8, happy=0.97)
    assert tiny.unsure and tiny.too_small and tiny.emotion == "neutral" and tiny.top_emotion == "happy"
    record = tiny.to_json()
    assert record["unsure"] is True and record["too_small"] is True and record["emotion"] == "neutral"


@pytest.mark.parametrize("side, happy, unsure", [
    (16, 0.55, True),    # sure enough for a large face, not for a 16-px one
    (16, 0.85, False),   # a 16-px face read this surely is shown
    (100, 0.55, False),  # the same reading on a large face is shown
    (100, 0.30, True),   # unsure at any size: not for its size
])
def test_small_faces_need_more_confidence(side: float, happy: float, unsure: bool) -> None:
    face = shown_after(TrackerSettings(**SURE_AT_ONCE), side=side, happy=happy)
    assert face.unsure is unsure
    assert face.too_small is (unsure and side < 24), "too small only when the size is what keeps it unsure"
    assert face.emotion == ("neutral" if unsure else "happy")


def test_the_unsure_emoji_is_the_users_choice() -> None:
    settings = tracker_settings(Config(unsure_emoji="none", smallest_readable_face=20))
    hidden = shown_after(settings, side=12, happy=0.99)
    assert hidden.unsure and hidden.too_small and hidden.emotion is None
    surprised = shown_after(tracker_settings(Config(unsure_emoji="surprise")), side=100, happy=0.2)
    assert surprised.unsure and not surprised.too_small and surprised.emotion == "surprise"


def test_a_face_that_comes_closer_becomes_readable() -> None:
    tracker = Tracker(TrackerSettings(**SURE_AT_ONCE))
    shown = [tracker.update([face_at(10, 10, side=side, probabilities={"happy": 0.6})])[0]
             for side in np.linspace(8, 60, 60)]
    states = [(face.unsure, face.too_small) for face in shown]
    assert states[0] == (True, True) and states[-1] == (False, False)
    turned = [face.unsure for face in shown].index(False)
    assert all(not face.unsure and face.emotion == "happy" for face in shown[turned:]), "shown once readable, and kept"


@pytest.mark.slow
def test_annotate_json_says_which_faces_were_too_small_to_read(tmp_path: Path, media: Path) -> None:
    """Through the real command line, on a real photo: with every face counted too small to read
    and the unsure emoji "none", the JSON says so and the faces are left as they were."""
    config = tmp_path / "config.toml"
    config.write_text('# faces are read from 4096 px up\nsmallest_readable_face = 4096\nunsure_emoji = "none"\n')
    source, out, report = media / "two_people.jpg", tmp_path / "out.png", tmp_path / "faces.json"
    assert main(["--config", str(config), "annotate", str(source), str(out), "--json", str(report), "--quiet"]) == 0
    [record] = json.loads(report.read_text())["frames"]
    assert len(record["faces"]) == 2
    for face in record["faces"]:
        assert face["unsure"] is True and face["too_small"] is True and face["emotion"] is None
        assert set(face["probabilities"]) == set(EMOTIONS)
    original, annotated = cv2.imread(str(source)), cv2.imread(str(out))
    assert np.abs(annotated.astype(int) - original.astype(int)).max() <= 1, "no emoji drawn on an unreadable face"


def test_on_real_faces_shrunk_far_the_wrong_emojis_fall_and_the_shown_ones_are_as_right_as_near_ones() -> None:
    """The shipped model on the FER2013 sample's PublicTest faces, shrunk to 12 px as a far face is
    (python -m benchmarks.far_faces prints the whole table)."""
    from benchmarks.far_faces import rates, shrunk
    from benchmarks.inputs import FER_SAMPLE
    from training.data import load_faces
    from vcam.classify import EmotionModel
    from vcam.preprocess import prepare_faces

    faces, model, settings = load_faces(FER_SAMPLE, "PublicTest"), EmotionModel(), tracker_settings(Config())
    near = model.predict(prepare_faces(faces.images, model.normalisation))
    far = model.predict(prepare_faces(shrunk(faces.images, 12), model.normalisation))
    top = far.max(axis=1)
    _, _, wrong_before, _ = rates(far, faces.labels, top < settings.unsure_below)
    _, _, wrong_after, right_after = rates(far, faces.labels, ~settings.readability.readable(np.full(len(top), 12.0), top))
    _, _, _, right_near = rates(near, faces.labels, near.max(axis=1) < settings.unsure_below)
    assert wrong_after < wrong_before / 4
    assert float(right_after) >= float(right_near) - 0.03
