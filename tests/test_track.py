"""vcam.track: identity across frames, and a steady emotion per face (smoothing in seconds, hysteresis, dwell)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from vcam.emotions import EMOTIONS
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


@pytest.mark.parametrize("absent, same_id", [(3, True), (10, True), (44, True), (46, False), (60, False)])
def test_a_face_back_after_more_than_forget_after_is_new(absent: int, same_id: bool) -> None:
    """Frames at 30 a second (no clock given): 1.5 s is 45 frames."""
    tracker = Tracker(TrackerSettings(forget_after=1.5))
    before = tracker.update([face_at(100, 100)])[0]
    for _ in range(absent):
        assert all(face.predicted and face.track_id == before.track_id for face in tracker.update([]))
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


UNSMOOTHED = TrackerSettings(time_constant=1e-9, dwell=0.0, switch_margin=0.0, unsure_gap=0.0, settle_seconds=0.0,
                            changes_per_second=0.0)
"""Each frame decides alone: no average, no dwell, no hysteresis, no settling."""
FPS = 30
HALF_A_SECOND = FPS // 2

HOVERING = [{"neutral": 0.42, "sad": 0.38}, {"sad": 0.42, "neutral": 0.38}] * 15
"""Each frame alone has a different leader: neutral and sad take turns by 0.04."""


def test_a_face_hovering_between_two_emotions_does_not_flicker() -> None:
    shown = shown_emotions(Tracker(), HOVERING)
    assert shown == ["neutral"] * len(HOVERING)
    # The same frames without smoothing and hysteresis would flicker on every frame.
    raw = shown_emotions(Tracker(UNSMOOTHED), HOVERING)
    assert raw == ["neutral", "sad"] * 15


def test_a_clear_lasting_change_switches_the_emotion_within_half_a_second() -> None:
    shown = shown_emotions(Tracker(), HOVERING + [{"happy": 0.9}] * FPS)
    changed = shown.index("happy")
    assert shown[:changed] == ["neutral"] * changed
    assert len(HOVERING) < changed <= len(HOVERING) + HALF_A_SECOND  # one happy frame is not enough ...
    assert shown[changed:] == ["happy"] * (len(shown) - changed)  # ... a few in a row are, and it stays


def test_a_single_outlier_frame_does_not_switch() -> None:
    shown = shown_emotions(Tracker(), [{"neutral": 0.8}] * 5 + [{"angry": 0.95}] + [{"neutral": 0.8}] * 5)
    assert set(shown) == {"neutral"}


@pytest.mark.parametrize("offset, switches", [(-0.005, True), (0.005, False)])
@pytest.mark.parametrize("dt", [0.15, 0.2])
def test_one_smoothing_step_is_the_exponential_moving_average_in_seconds(offset: float, switches: bool,
                                                                        dt: float) -> None:
    """Classifications dt seconds apart mix as w·new + (1 − w)·old with w = 1 − exp(−dt / time
    constant), whatever the frame rate or the frames skipped between (here 4 and 6 frames at
    30 fps); the shown emotion switches exactly when the new leader's smoothed lead exceeds the margin."""
    old = {"neutral": 0.5, "happy": 0.2, "sad": 0.1}
    new = {"neutral": 0.15, "happy": 0.75, "sad": 0.02}
    weight = 1 - np.exp(-dt / 0.3)
    smoothed = weight * np.array(distribution(**new)) + (1 - weight) * np.array(distribution(**old))
    lead = smoothed[EMOTIONS.index("happy")] - smoothed[EMOTIONS.index("neutral")]
    tracker = Tracker(TrackerSettings(time_constant=0.3, dwell=0.0, switch_margin=lead + offset, settle_seconds=0.0,
                                      changes_per_second=0.0))
    first = tracker.update([face_at(100, 100, probabilities=old)], t=5.0)[0]
    second = tracker.update([face_at(100, 100, probabilities=new)], t=5.0 + dt)[0]
    np.testing.assert_allclose(second.smoothed, smoothed)
    assert (first.emotion, second.emotion) == ("neutral", "happy" if switches else "neutral")


def test_faces_keep_their_probabilities_and_a_face_without_them_shows_nothing_yet() -> None:
    tracker = Tracker(TrackerSettings(settle_seconds=0.0))
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
    clear = [tracker.update([face_at(0, 0, probabilities={"happy": 0.9, "neutral": 0.1})])[0] for _ in range(FPS)]
    sure = [face.unsure for face in clear].index(False)
    assert 0 < sure <= HALF_A_SECOND and clear[sure].emotion == "happy"
    assert clear[-1].to_json()["unsure"] is False and unsure.to_json()["unsure"] is True
    never_unsure = Tracker(TrackerSettings(unsure_below=0.0, settle_seconds=0.0))
    never = never_unsure.update([face_at(0, 0, probabilities=flat)])[0]
    assert not never.unsure and never.emotion == "angry"


def test_the_unsure_state_has_hysteresis() -> None:
    """A top probability that hovers around the 0.4 threshold (0.34 … 0.50, a sway of ten frames)
    enters the unsure state once and stays there; deciding frame by frame, it flips each sway."""
    tops = [0.42 + 0.08 * np.sin(2 * np.pi * frame / 10) for frame in range(3 * FPS)]
    sequence = [{"sad": top, "neutral": 0.1} for top in tops]

    def unsure_flags(settings: TrackerSettings) -> list[bool]:
        tracker = Tracker(settings)
        return [tracker.update([face_at(100, 100, probabilities=p)])[0].unsure for p in sequence]

    def flips(flags: list[bool]) -> int:
        return sum(a != b for a, b in zip(flags, flags[1:]))

    raw = unsure_flags(UNSMOOTHED)
    assert flips(raw) >= 15
    steady = unsure_flags(TrackerSettings(time_constant=1e-9, dwell=0.0, settle_seconds=0.0, changes_per_second=0.0))  # hysteresis alone
    assert flips(steady) == 1 and steady[-1] is True
    assert flips(unsure_flags(TrackerSettings(settle_seconds=0.0))) <= 1


def test_the_dwell_holds_an_emoji_unless_a_change_is_clear_and_confident() -> None:
    """Without smoothing, a leader that changes every 5 frames (1/6 s) with a modest lead is
    shown for at least the dwell's 24 frames each time; a confident one (0.8, leading by 0.7)
    is shown at once."""
    settings = TrackerSettings(time_constant=1e-9, dwell=0.8, settle_seconds=0.0, changes_per_second=0.0)
    modest = [{"sad": 0.55, "angry": 0.3}] * 5 + [{"angry": 0.55, "sad": 0.3}] * 5
    shown = shown_emotions(Tracker(settings), modest * 9)
    runs = [len(list(group)) for _, group in itertools.groupby(shown)]
    assert len(runs) > 1 and min(runs[:-1]) >= round(0.8 * FPS)
    confident = shown_emotions(Tracker(settings), [{"sad": 0.55, "angry": 0.3}] * 5 + [{"angry": 0.8}])
    assert confident[-1] == "angry"


def follow(tracker: Tracker, frames: list[list[Face]]) -> list[list[Face]]:
    return [tracker.update(faces) for faces in frames]


def test_a_track_survives_a_two_frame_miss_and_a_20_pixel_jump_with_its_emotion() -> None:
    happy = {"happy": 0.8}
    before = [[face_at(100 + 2 * step, 100, probabilities=happy)] for step in range(10)]
    frames = before + [[], []] + [[face_at(138, 100, probabilities={"sad": 0.6})]]  # 20 px past the last motion
    out = follow(Tracker(), frames)
    ids = {face.track_id for faces in out for face in faces}
    assert len(ids) == 1
    assert [faces[0].predicted for faces in out[9:12]] == [False, True, True]
    assert out[10][0].box[0] == pytest.approx(120, abs=1.0) and out[11][0].box[0] == pytest.approx(122, abs=1.0)
    assert out[-1][0].emotion == "happy" and not out[-1][0].predicted  # the smoothed state went on


def test_a_track_found_again_within_a_second_continues_its_smoothed_emotion() -> None:
    tracker = Tracker()
    first = follow(tracker, [[face_at(100, 100, probabilities={"surprise": 0.8})]] * FPS)[-1][0]
    follow(tracker, [[]] * FPS)
    again = tracker.update([face_at(104, 98, probabilities={"neutral": 0.6})])[0]
    assert (again.track_id, again.emotion) == (first.track_id, "surprise")
    # The second away counts as the longest step (0.2 s), not as a second of new evidence.
    weight = 1 - np.exp(-TrackerSettings().longest_step / TrackerSettings().time_constant)
    np.testing.assert_allclose(again.smoothed[EMOTIONS.index("surprise")], 0.8 + (0.4 / 6 - 0.8) * weight)


def test_a_face_leaving_at_the_edge_is_shown_moving_on_then_dropped() -> None:
    """A face sliding left out of a frame, 6 px a frame, is detected until its box reaches the
    border; then its predicted box goes on sliding with its emoji for show_missed (9 frames at
    30 fps), and after that the track is no longer shown."""
    entering = [[face_at(60 - 6 * step, 200, probabilities={"happy": 0.8})] for step in range(10)]
    out = follow(Tracker(TrackerSettings(settle_seconds=0.0)), entering + [[]] * 20)
    predicted = [faces for faces in out[10:] if faces]
    assert len(predicted) == round(TrackerSettings().show_missed * FPS)
    xs = [faces[0].box[0] for faces in predicted]
    assert all(faces[0].predicted and faces[0].emotion == "happy" for faces in predicted)
    assert xs == sorted(xs, reverse=True) and xs[0] == pytest.approx(60 - 6 * 10, abs=1.0)
    assert out[-1] == []


def test_a_new_face_is_unsure_until_its_reading_settles_then_keeps_its_first_emoji() -> None:
    """At 30 fps, a new face whose first looks read angry and then happy (a face turning towards
    the camera): without settling it shows angry at once and happy later; settling, it shows the
    unsure emoji for at least settle_seconds (0.4 s: 12 steps after its first look) and until its
    average is sure (0.5), then happy, and keeps it."""
    looks = [{"angry": 0.7}] * 3 + [{"happy": 0.8}] * (2 * FPS)
    at_once = shown_emotions(Tracker(TrackerSettings(settle_seconds=0.0)), looks)
    assert at_once[0] == "angry" and at_once[-1] == "happy"
    tracker = Tracker()
    shown = [tracker.update([face_at(100, 100, probabilities=p)], t=i / FPS)[0] for i, p in enumerate(looks)]
    first = [face.unsure for face in shown].index(False)
    assert round(TrackerSettings().settle_seconds * FPS) <= first < FPS
    assert all(face.emotion == "neutral" for face in shown[:first])
    assert {face.emotion for face in shown[first:]} == {"happy"}


def test_settling_counts_classifications_not_the_time_a_face_was_away() -> None:
    """One look, 0.7 s unseen, another look: two classifications are 0.2 s of evidence (the
    longest step), not 0.7 s, so the face is still unsure."""
    tracker = Tracker()
    tracker.update([face_at(100, 100, probabilities={"happy": 0.9})], t=0.0)
    again = tracker.update([face_at(102, 100, probabilities={"happy": 0.9})], t=0.7)[0]
    assert again.unsure and again.emotion == "neutral"


def test_a_face_found_again_after_a_short_loss_keeps_its_emoji_without_settling_again() -> None:
    """Settled on surprise over a second, unseen for a second (under forget_after), found again:
    the same track shows surprise on its first frame back."""
    tracker = Tracker()
    for i in range(FPS):
        first = tracker.update([face_at(100, 100, probabilities={"surprise": 0.8})], t=i / FPS)[0]
    assert first.emotion == "surprise" and not first.unsure
    for i in range(FPS, 2 * FPS):
        tracker.update([], t=i / FPS)
    again = tracker.update([face_at(104, 98, probabilities={"surprise": 0.8})], t=2.0)[0]
    assert (again.track_id, again.emotion, again.unsure) == (first.track_id, "surprise", False)


def shown_at(tracker: Tracker, sequence: list[dict[str, float]]) -> list[str | None]:
    """As shown_emotions, frame i at i / FPS seconds."""
    return [tracker.update([face_at(100, 100, probabilities=p)], t=i / FPS)[0].emotion for i, p in enumerate(sequence)]


def changes(shown: list[str | None]) -> int:
    return sum(1 for before, after in zip(shown, shown[1:]) if before != after)


@pytest.mark.parametrize("every", [0.5, 1.0, 1.5])
def test_a_face_changes_its_emoji_at_most_half_a_time_a_second_over_its_life(every: float) -> None:
    """Clear, confident readings that turn from happy to sad and back every `every` seconds for
    6 s: the dwell alone would follow each turn; the budget spends one change per 2 s of the face's life."""
    settings = TrackerSettings(settle_seconds=0.0)
    turn = round(every * FPS)
    sequence = ([{"happy": 0.9}] * turn + [{"sad": 0.9}] * turn) * round(3 / every)
    shown = shown_at(Tracker(settings), sequence)
    without = shown_at(Tracker(replace(settings, changes_per_second=0.0)), sequence)
    assert changes(without) >= round(6 / every) - 1
    assert 1 <= changes(shown) <= settings.changes_per_second * len(sequence) / FPS


def test_a_face_that_held_its_emoji_shows_a_true_change_at_once() -> None:
    """A face happy for 3 s that turns clearly sad: shown as fast as without a budget."""
    sequence = [{"happy": 0.9}] * (3 * FPS) + [{"sad": 0.9}] * FPS
    shown = shown_at(Tracker(), sequence)
    without = shown_at(Tracker(TrackerSettings(changes_per_second=0.0)), sequence)
    assert shown == without and shown[-1] == "sad"
    assert shown.index("sad") - 3 * FPS <= HALF_A_SECOND


def test_a_new_face_that_turns_within_its_first_two_seconds_waits_for_its_budget() -> None:
    """Happy for 1 s, then clearly sad: a change 1 s into a face's life would be one change in a
    second; it shows once the face is 2 s old."""
    sequence = [{"happy": 0.9}] * FPS + [{"sad": 0.9}] * (2 * FPS)
    shown = shown_at(Tracker(), sequence)
    assert shown[FPS - 1] == "happy" and shown[-1] == "sad"
    assert shown.index("sad") == pytest.approx(2 * FPS, abs=1)
