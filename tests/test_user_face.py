"""vcam.user_face and "only me": the emoji on the user's face alone, held through a turn of the
head while someone else walks behind (a clip made from real faces, benchmarks/passer_by.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.passer_by import FPS, PasserByFrame, on_wrong_face, passer_by_clip, run
from vcam.choices import Faces
from vcam.cli import main
from vcam.config import Config, load_config
from vcam.errors import VcamError
from vcam.faces import Face, iou
from vcam.pipeline import Pipeline
from vcam.user_face import UserFace

WIDTH, HEIGHT = 1280, 720


def face(cx: float, cy: float, side: float, track: int, predicted: bool = False) -> Face:
    return Face((cx - side / 2, cy - side / 2, side, side), (), 0.9, track_id=track, predicted=predicted)


def test_the_largest_face_near_the_middle_is_chosen_and_then_held_by_its_track() -> None:
    user = UserFace()
    corner_giant, middle = face(150, 150, 300, 1), face(640, 380, 220, 2)
    assert user.pick([corner_giant, middle, face(900, 300, 120, 3)], WIDTH, HEIGHT, 0.0) is middle
    # The user moves to the side and someone larger stands in the middle: the track holds.
    moved, stranger = face(300, 400, 200, 2), face(640, 360, 260, 4)
    assert user.pick([stranger, moved], WIDTH, HEIGHT, 0.5) is moved


def test_a_turned_away_user_keeps_the_role_until_found_again_where_they_were() -> None:
    user = UserFace()
    assert user.pick([face(640, 380, 220, 1)], WIDTH, HEIGHT, 0.0).track_id == 1
    passer = face(600, 250, 110, 2)
    for t in np.arange(0.1, 3.0, 0.1):  # the user's track has ended; the other person is in full view
        assert user.pick([passer], WIDTH, HEIGHT, t) is None
    assert user.may_be([passer], 3.0) == [False]
    back = face(660, 390, 210, 3)  # a new track where the user was, of their size
    assert user.may_be([passer, back], 3.0) == [False, True]
    assert user.pick([passer, back], WIDTH, HEIGHT, 3.0) is back
    assert user.pick([face(650, 385, 215, 3), passer], WIDTH, HEIGHT, 3.1).track_id == 3


def test_after_the_user_has_left_for_a_while_the_face_in_the_middle_is_chosen_afresh() -> None:
    user = UserFace()
    user.pick([face(640, 380, 220, 1)], WIDTH, HEIGHT, 0.0)
    newcomer = face(950, 300, 120, 5)  # not where the user was
    assert user.pick([newcomer], WIDTH, HEIGHT, user.settings.absent_for) is None
    assert user.pick([newcomer], WIDTH, HEIGHT, user.settings.absent_for + 0.1) is newcomer


@pytest.fixture(scope="module")
def clip(media: Path) -> list[PasserByFrame]:
    return passer_by_clip(media)


@pytest.mark.slow
def test_only_me_keeps_the_emoji_on_the_user_while_someone_walks_behind(clip: list[PasserByFrame]) -> None:
    everyone, _ = run(Pipeline.from_config(Config()), clip)
    only_me, _ = run(Pipeline.from_config(Config(faces=Faces.ONLY_ME)), clip)
    # The clip does put a second face in reach: with everyone, it gets an emoji on many frames.
    on_passer = [any(f.emotion and iou(f.box, truth.passer) >= 0.3 for f in result.faces)
                 for result, truth in zip(everyone, clip)]
    assert sum(on_passer) > len(clip) / 2
    assert sum(on_wrong_face(result, truth) for result, truth in zip(only_me, clip)) == 0
    on_user = [len(result.faces) == 1 and iou(result.faces[0].box, truth.user) >= 0.3 and result.faces[0].emotion is not None
               for result, truth in zip(only_me, clip) if truth.user_visible]
    assert sum(on_user) >= 0.95 * len(on_user)
    # Everyone else is left untouched: the other face's pixels, away from the user's emoji, are the camera's.
    for result, truth in zip(only_me, clip):
        x, y, w, h = (round(v) for v in truth.passer)
        if abs(truth.passer[0] - truth.user[0]) > 2 * truth.user[2]:
            assert np.array_equal(result.frame[y:y + h, x:x + w], truth.frame[y:y + h, x:x + w])


@pytest.mark.slow
def test_only_me_reads_the_emotion_of_the_user_alone(clip: list[PasserByFrame]) -> None:
    class CountingModel:
        def __init__(self, model) -> None:
            self.model, self.faces = model, 0

        def classify(self, frame, faces):
            self.faces += len(faces)
            return self.model.classify(frame, faces)

    counts = {}
    for faces in Faces:
        pipeline = Pipeline.from_config(Config(faces=faces))
        pipeline.model = CountingModel(pipeline.model)
        run(pipeline, clip[:FPS])
        counts[faces] = pipeline.model.faces
    assert 0 < counts[Faces.ONLY_ME] < counts[Faces.EVERYONE]


def test_faces_is_read_from_the_settings_and_a_bad_value_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.toml"
    good.write_text('faces = "only_me"\n')
    assert load_config(good).faces is Faces.ONLY_ME
    bad = tmp_path / "bad.toml"
    bad.write_text('faces = "just me"\n')
    with pytest.raises(VcamError, match="unknown faces 'just me'; choose one of everyone, only_me"):
        load_config(bad)
    assert main(["--config", str(bad), "doctor"]) == 2
    assert capsys.readouterr().err == (f"vcam: error: config file {bad}: unknown faces 'just me'; "
                                       "choose one of everyone, only_me\n")
