"""vcam.track: identity across frames, and a steady emotion per face (EMA and hysteresis)."""

from __future__ import annotations

import numpy as np
import pytest

from vcam import EMOTIONS
from vcam.faces import Face
from vcam.track import Tracker, TrackerSettings


def face_at(x: float, y: float, side: float = 100.0, probabilities: dict[str, float] | None = None) -> Face:
    """A face whose box has its top-left at (x, y); `probabilities` by emotion name, the rest
    shared evenly by the other emotions."""
    keypoints = tuple((x + side * fx, y + side * fy) for fx, fy in
                      ((0.3, 0.35), (0.7, 0.35), (0.5, 0.55), (0.5, 0.75), (0.05, 0.4), (0.95, 0.4)))
    return Face((x, y, side, side), keypoints, 0.9,
                probabilities=None if probabilities is None else distribution(**probabilities))


def distribution(**named: float) -> tuple[float, ...]:
    rest = (1.0 - sum(named.values())) / (len(EMOTIONS) - len(named))
    return tuple(named.get(emotion, rest) for emotion in EMOTIONS)


def test_a_face_moving_a_little_keeps_its_id() -> None:
    tracker = Tracker()
    ids = {tracker.update([face_at(100 + 6 * step, 80 + 3 * step)])[0].track_id for step in range(30)}
    assert len(ids) == 1 and None not in ids


def test_two_faces_get_different_ids_that_follow_them() -> None:
    tracker = Tracker()
    left, right = tracker.update([face_at(50, 50), face_at(400, 60)])
    assert left.track_id != right.track_id
    # Next frame: both moved a little and come in the other order.
    right_again, left_again = tracker.update([face_at(405, 62), face_at(47, 52)])
    assert (left_again.track_id, right_again.track_id) == (left.track_id, right.track_id)


def test_a_face_that_jumps_far_is_a_new_track() -> None:
    tracker = Tracker()
    first = tracker.update([face_at(0, 0)])[0]
    assert tracker.update([face_at(300, 0)])[0].track_id != first.track_id


@pytest.mark.parametrize("absent, same_id", [(3, True), (10, True), (11, False), (20, False)])
def test_a_face_back_after_more_than_max_missed_frames_is_new(absent: int, same_id: bool) -> None:
    tracker = Tracker(TrackerSettings(max_missed=10))
    before = tracker.update([face_at(100, 100)])[0]
    for _ in range(absent):
        assert tracker.update([]) == []
    after = tracker.update([face_at(102, 101)])[0]
    assert (after.track_id == before.track_id) is same_id


def test_reset_forgets_every_track() -> None:
    tracker = Tracker()
    before = tracker.update([face_at(100, 100)])[0]
    tracker.reset()
    assert tracker.update([face_at(100, 100)])[0].track_id != before.track_id


def shown_emotions(tracker: Tracker, sequence: list[dict[str, float]]) -> list[str | None]:
    """The emotion the tracker shows for one still face, frame by frame."""
    return [tracker.update([face_at(100, 100, probabilities=p)])[0].emotion for p in sequence]


HOVERING = [{"neutral": 0.42, "sad": 0.38}, {"sad": 0.42, "neutral": 0.38}] * 15
"""Each frame alone has a different leader: neutral and sad take turns by 0.04."""


def test_a_face_hovering_between_two_emotions_does_not_flicker() -> None:
    shown = shown_emotions(Tracker(), HOVERING)
    assert shown == ["neutral"] * len(HOVERING)
    # The same frames without smoothing and hysteresis would flicker on every frame.
    raw = shown_emotions(Tracker(TrackerSettings(smoothing=1.0, switch_margin=0.0)), HOVERING)
    assert raw == ["neutral", "sad"] * 15


def test_a_clear_lasting_change_switches_the_emotion() -> None:
    shown = shown_emotions(Tracker(), HOVERING + [{"happy": 0.9}] * 6)
    assert shown[len(HOVERING) - 1] == "neutral"
    assert shown[len(HOVERING)] == "neutral"  # one happy frame is not enough ...
    assert shown[-1] == "happy"  # ... a few in a row are
    assert shown[-3:] == ["happy"] * 3


def test_a_single_outlier_frame_does_not_switch() -> None:
    shown = shown_emotions(Tracker(), [{"neutral": 0.8}] * 5 + [{"angry": 0.95}] + [{"neutral": 0.8}] * 5)
    assert set(shown) == {"neutral"}


@pytest.mark.parametrize("offset, switches", [(-0.005, True), (0.005, False)])
def test_one_smoothing_step_is_the_exponential_moving_average(offset: float, switches: bool) -> None:
    """After two frames the smoothed probabilities are alpha·new + (1 − alpha)·old; the shown
    emotion switches exactly when the new leader's smoothed lead exceeds the margin."""
    alpha = 0.7
    old = {"neutral": 0.5, "happy": 0.2, "sad": 0.1}
    new = {"neutral": 0.15, "happy": 0.75, "sad": 0.02}
    smoothed = alpha * np.array(distribution(**new)) + (1 - alpha) * np.array(distribution(**old))
    lead = smoothed[EMOTIONS.index("happy")] - smoothed[EMOTIONS.index("neutral")]
    tracker = Tracker(TrackerSettings(smoothing=alpha, switch_margin=lead + offset))
    assert shown_emotions(tracker, [old, new]) == ["neutral", "happy" if switches else "neutral"]


def test_faces_keep_their_probabilities_and_a_face_without_them_shows_nothing_yet() -> None:
    tracker = Tracker()
    face = face_at(10, 10, probabilities={"surprise": 0.7})
    tracked = tracker.update([face])[0]
    assert tracked.probabilities == face.probabilities and tracked.box == face.box
    assert tracked.emotion == "surprise"
    assert tracker.update([face_at(400, 10)])[0].emotion is None


def test_a_face_with_no_clear_emotion_is_unsure_and_shows_neutral() -> None:
    flat = {"angry": 0.3, "sad": 0.25, "fear": 0.25, "happy": 0.2}
    tracker = Tracker()
    unsure = tracker.update([face_at(0, 0, probabilities=flat)])[0]
    assert unsure.unsure and unsure.emotion == "neutral" and unsure.top_emotion == "angry"
    clear = tracker.update([face_at(0, 0, probabilities={"happy": 0.9, "neutral": 0.1})])[0]
    # Smoothed: happy 0.4 × 0.9 + 0.6 × 0.2 = 0.48, past the threshold and the switch margin.
    assert not clear.unsure and clear.emotion == "happy"
    assert clear.to_json()["unsure"] is False and unsure.to_json()["unsure"] is True
    never = Tracker(TrackerSettings(unsure_below=0.0)).update([face_at(0, 0, probabilities=flat)])[0]
    assert not never.unsure and never.emotion == "angry"
