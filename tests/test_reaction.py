"""vcam.reaction: the emoji a user asks for, on their face for 3 s of frame time, faded in and out."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.config import Config
from vcam.errors import UnknownChoice
from vcam.pipeline import Pipeline
from vcam.emotions import Emotion
from vcam.reaction import REACTION_LABELS, REACTION_SECONDS, Reaction


def test_a_reaction_starts_on_the_next_frame_and_lasts_its_seconds_of_frame_time() -> None:
    reaction = Reaction()
    assert reaction.showing(0.0) is None and reaction.current is None
    reaction.ask(Emotion.SURPRISE)
    assert reaction.current == Emotion.SURPRISE
    shown = [reaction.showing(10 + i / 30) for i in range(120)]
    assert shown[:90] == [Emotion.SURPRISE] * 90 and shown[90:] == [None] * 30
    assert reaction.current is None


def test_every_emotion_has_a_reaction_with_its_emoji() -> None:
    assert list(REACTION_LABELS) != [] and set(REACTION_LABELS) == set(Emotion)
    assert all(label.split(" ")[0] and label.split(" ")[0] != label for label in REACTION_LABELS.values())


@pytest.mark.parametrize("fps", [30, 25])
def test_the_reaction_shows_on_the_users_face_for_3_s_fades_and_hands_back(media: Path, fps: int) -> None:
    photo = cv2.imread(str(media / "obama-720p.jpg"))
    pipeline = Pipeline.from_config(Config(detector="short"))
    start, frames = round(0.7 * fps), round(4.6 * fps)  # from 0.7 s: the new face's first emoji has settled
    results, reaction = [], None
    for index in range(frames):
        if index == start:
            read = results[-1].faces[0].emotion
            reaction = Emotion.SURPRISE if read != "surprise" else Emotion.SAD
            pipeline.react(reaction)
        results.append(pipeline.process(photo.copy(), t=index / fps))
    reacting = [i for i, result in enumerate(results) if result.faces and result.faces[0].emotion == reaction]
    # 3 s ± one frame, in one run from the frame after the request, and the camera's reading after.
    assert reacting == list(range(start, start + len(reacting)))
    assert abs(len(reacting) / fps - REACTION_SECONDS) <= 1 / fps
    assert results[-1].faces[0].emotion == results[start - 1].faces[0].emotion

    def drawn_alone(index: int) -> np.ndarray:
        """The frame with its face's emoji drawn whole, no fade."""
        frame = photo.copy()
        pipeline.overlay.draw(frame, results[index].faces)
        return frame

    end = reacting[-1] + 1
    after_fade = int(np.ceil(0.15 * fps)) + 1
    assert not np.array_equal(results[start].frame, drawn_alone(start)), "the reaction fades in"
    np.testing.assert_array_equal(results[start + after_fade].frame, drawn_alone(start + after_fade))
    assert not np.array_equal(results[end].frame, drawn_alone(end)), "and out"
    np.testing.assert_array_equal(results[end + after_fade].frame, drawn_alone(end + after_fade))


def test_an_unknown_reaction_is_refused_by_name() -> None:
    from vcam.engine import Engine

    engine = Engine(Config(detector="short"))
    with pytest.raises(UnknownChoice, match="unknown reaction 'wink'; choose one of angry, disgust"):
        engine.react("wink")
