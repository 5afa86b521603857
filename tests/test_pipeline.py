"""vcam.pipeline: one real frame through detect → classify → track → overlay."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.choices import Effort
from vcam.config import Config
from vcam.emotions import EMOTIONS
from vcam.pipeline import Pipeline


@pytest.fixture(scope="module")
def photo(media: Path) -> np.ndarray:
    return cv2.imread(str(media / "two_people.jpg"))


def test_every_stage_adds_to_the_faces_and_the_frame_is_drawn_in_place(photo) -> None:
    frame = photo.copy()
    result = Pipeline.from_config(Config()).process(frame)
    assert result.frame is frame and not np.array_equal(frame, photo)
    assert len(result.faces) == 2
    for face in result.faces:
        assert len(face.probabilities) == len(EMOTIONS) and face.emotion in EMOTIONS
    assert len({face.track_id for face in result.faces}) == 2



def test_a_face_not_classified_on_a_frame_reports_no_reading_of_its_own(photo) -> None:
    # Balanced effort classifies a face that holds its look a few times a second: on the frames
    # between, the face carries the average its emoji follows, never that average as a reading.
    pipeline = Pipeline.from_config(Config())
    first = pipeline.process(photo.copy(), t=0.0).faces
    second = pipeline.process(photo.copy(), t=1 / 30).faces
    assert all(face.probabilities is not None for face in first)
    skipped = [face for face in second if face.probabilities is None]
    assert skipped, "every face was classified again on the next frame of a still picture"
    for face in skipped:
        assert face.smoothed is not None and face.to_json()["probabilities"] is None
        assert face.to_json()["smoothed"] is not None

def test_ids_persist_from_frame_to_frame_and_overlay_can_be_switched_off(photo) -> None:
    pipeline = Pipeline.from_config(Config(detector="short"))
    first = pipeline.process(photo.copy()).faces
    pipeline.overlay_enabled = False
    frame = photo.copy()
    second = pipeline.process(frame).faces
    np.testing.assert_array_equal(frame, photo)
    assert sorted(face.track_id for face in second) == sorted(face.track_id for face in first)


class CountingDetector:
    """The real detector, counting its calls."""

    def __init__(self, detector) -> None:
        self.detector, self.calls = detector, 0

    def detect(self, frame):
        self.calls += 1
        return self.detector.detect(frame)


def test_detecting_every_second_frame_keeps_the_faces_between(photo) -> None:
    pipeline = Pipeline.from_config(Config(detect_every=2, effort=Effort.HIGH))  # high: whatever the picture
    counting = pipeline.detector = CountingDetector(pipeline.detector)
    boxes = [[face.box for face in pipeline.process(frame).faces] for frame in (photo.copy(), np.flipud(photo).copy(),
                                                                                  photo.copy())]
    assert counting.calls == 2  # frames 0 and 2; frame 1 kept frame 0's faces
    assert boxes[1] == boxes[0] and len(boxes[0]) == 2


def test_detect_every_must_be_a_positive_whole_number() -> None:
    from vcam.errors import VcamError

    for bad in (0, 1.5, True):
        with pytest.raises(VcamError, match="detect_every"):
            Config(detect_every=bad)


def test_reset_forgets_the_kept_faces(photo) -> None:
    pipeline = Pipeline.from_config(Config(detect_every=5))
    counting = pipeline.detector = CountingDetector(pipeline.detector)
    pipeline.process(photo.copy())
    pipeline.reset()  # a new camera: its first frame is detected afresh
    assert pipeline.process(np.zeros_like(photo)).faces == [] and counting.calls == 2


@pytest.fixture(scope="module")
def known_clip(fer_npz: Path):
    """FER2013 faces at one spot: happy, surprise, happy, neutral, 2 s each (benchmarks/known_changes.py)."""
    from benchmarks.known_changes import known_changes_clip

    return known_changes_clip(fer_npz)


@pytest.mark.slow
@pytest.mark.parametrize("fps", [15, 30, 60])
def test_the_emoji_changes_when_the_face_does_and_only_then(known_clip, fps: int) -> None:
    """At 15, 30 and 60 fps: one track for the whole clip; no change of the shown emoji while the
    true expression holds (the issue allows 0.5 a second); each true change shown within half a
    second, counted in frames at the clip's rate."""
    from benchmarks.known_changes import followed_truth, shown_emotion

    pipeline = Pipeline.from_config(Config())
    shown, ids = [], set()
    for t, frame in known_clip.frames(fps):
        faces = pipeline.process(frame, t).faces
        ids.update(face.track_id for face in faces)
        shown.append((t, shown_emotion(faces[0] if faces else None, shown)))
    followed = followed_truth(known_clip, shown)
    assert len(ids) == 1
    assert followed.false_changes == 0
    lag_frames = [round(lag * fps) for lag in followed.lags]
    assert all(0 < lag <= fps // 2 for lag in lag_frames), lag_frames


def test_a_new_expression_is_classified_on_every_frame_until_its_emoji_shows(known_clip) -> None:
    """Balanced effort on the known-changes clip at 30 fps: between changes a face is classified a
    few times a second; at a change its look changes and the classifier reads another emotion, so
    it is classified on that frame and on every frame after, until the emoji shows the new
    emotion, and no later than a classification on every frame (high effort) shows it."""
    from benchmarks.known_changes import followed_truth, shown_emotion

    def run(effort: Effort) -> tuple[list[int], list[tuple[float, str | None]]]:
        pipeline = Pipeline.from_config(Config(effort=effort))
        classify = pipeline.model.classify
        counts: list[int | None] = []

        def counting(frame, faces):
            counts[-1] += len(faces)
            return classify(frame, faces)

        pipeline.model.classify = counting
        shown = []
        for t, frame in known_clip.frames(30):
            counts.append(0)
            faces = pipeline.process(frame, t).faces
            shown.append((t, shown_emotion(faces[0] if faces else None, shown)))
            if not faces or faces[0].predicted:
                counts[-1] = None  # the detector missed it: nothing to classify on this frame
        return counts, shown

    counts, shown = run(Effort.BALANCED)
    followed = followed_truth(known_clip, shown)
    assert followed.false_changes == 0
    for change, lag in zip(known_clip.change_times(), followed.lags):
        cut, follows = round(change * 30), round(change * 30) + round(lag * 30)
        frames = [count for count in counts[cut:follows + 1] if count is not None]
        assert frames and all(frames), f"the face was not followed from {cut} to {follows}: {counts[cut:follows + 1]}"
    assert sum(count or 0 for count in counts) < 0.5 * len(counts)
    high = followed_truth(known_clip, run(Effort.HIGH)[1])
    assert sum(followed.lags) <= sum(high.lags) + 1 / 30


def test_the_first_reading_of_a_changed_look_brings_the_new_emoji_within_0_3_s(known_clip) -> None:
    """Balanced effort at 30 fps: the reading taken when a face's look changes stands for at least
    the tracker's new_look_step, however soon after the last it came, so each change of the
    known-changes clip shows within 9 frames (0.3 s) and sooner than when that reading stands only
    for the time since the last (which took 8–9 frames), with no change where the truth holds."""
    import dataclasses

    from benchmarks.known_changes import followed_truth, shown_emotion
    from vcam.track import Tracker

    def lags(new_look_step: float | None) -> list[int]:
        pipeline = Pipeline.from_config(Config())
        if new_look_step is not None:
            pipeline.tracker = Tracker(dataclasses.replace(pipeline.tracker.settings, new_look_step=new_look_step))
        shown = []
        for t, frame in known_clip.frames(30):
            faces = pipeline.process(frame, t).faces
            shown.append((t, shown_emotion(faces[0] if faces else None, shown)))
        followed = followed_truth(known_clip, shown)
        assert followed.false_changes == 0
        return [round(lag * 30) for lag in followed.lags]

    weighed, unweighed = lags(None), lags(0.0)
    assert len(weighed) == len(known_clip.change_times()) and all(0 < lag <= 9 for lag in weighed), weighed
    assert sum(weighed) < sum(unweighed), (weighed, unweighed)


def test_at_balanced_effort_the_real_clip_s_emojis_stay_steady(clip_frames) -> None:
    """The test clip at balanced effort, as the live app runs: every track of a second or more
    changes its emoji at most 0.5 times a second, or once when it is under two seconds (the
    performer talks and turns, so the look changes often; a changed look's reading that weighed
    0.15 s instead of 0.1 s had the performer's emoji change 8 times in 8.4 s instead of 4)."""
    from vcam.steadiness import measure_steadiness

    pipeline = Pipeline.from_config(Config())
    fps = 29.97
    records = [{"frame": index, "faces": [face.to_json() for face in pipeline.process(frame.copy(), index / fps).faces]}
               for index, frame in enumerate(clip_frames) if frame is not None]
    long = measure_steadiness(records, fps).long_tracks()
    assert long
    for track in long:
        assert track.changes_per_second <= 0.5 or (track.seconds < 2 and track.changes <= 1), track


@pytest.mark.slow
def test_a_classification_schedule_that_skips_frames_is_smoothed_in_seconds_too(known_clip) -> None:
    """Classified on every third frame of 30 (the tracker given the time), the clip's changes are
    still followed within half a second and nothing else changes."""
    from benchmarks.known_changes import followed_truth, shown_emotion

    pipeline = Pipeline.from_config(Config())
    shown = []
    for index, (t, frame) in enumerate(known_clip.frames(30)):
        if index % 3 == 0:
            faces = pipeline.tracker.update(pipeline.model.classify(frame, pipeline.detector.detect(frame)), t)
            shown.append((t, shown_emotion(faces[0] if faces else None, shown)))
    followed = followed_truth(known_clip, shown)
    assert followed.false_changes == 0 and all(lag <= 0.5 for lag in followed.lags)


@pytest.mark.slow
def test_annotate_stats_on_the_clip_reports_steady_tracks(tmp_path: Path, media: Path, capsys) -> None:
    """`vcam annotate --stats` on the real clip: the summary, then the tracks and their changes a
    second. Every track of a second or more changes its emoji at most 0.5 times a second, or once
    for a track under two seconds (the clip's truth is unknown: one change may be real); the
    JSON keeps each frame's shown emotion, smoothed probabilities and whether the face was predicted."""
    import json
    import re

    from media_files import run_cli

    from vcam.steadiness import measure_steadiness

    out, report = tmp_path / "out.mp4", tmp_path / "faces.json"
    assert run_cli(tmp_path, "annotate", media / "short_hamilton_clip.mp4", out, "--json", report, "--stats",
                   "--quiet") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and re.fullmatch(r"steadiness: \d+ tracks, \d+ of 1 s or more; emoji changes a second: .+",
                                            lines[1])
    records = json.loads(report.read_text())["frames"]
    steadiness = measure_steadiness(records, 29.97)
    assert str(steadiness) in lines[1]
    long = steadiness.long_tracks()
    assert long
    for track in long:
        assert track.changes <= max(1.0, 0.5 * track.seconds), track
    faces = [face for record in records for face in record["faces"]]
    assert any(face["predicted"] for face in faces) and all(face["emotion"] in EMOTIONS for face in faces)
    assert all(set(face["smoothed"]) == set(EMOTIONS) for face in faces)


def test_a_face_leaving_by_the_frame_edge_keeps_its_emoji_a_moment_then_is_dropped(media: Path) -> None:
    """The real photo slid left 20 px a frame at 30 fps until the face has left: the face keeps one
    track while the detector finds it; once the detector loses it at the border, its emoji goes
    on, moving left with the face's last motion, for show_missed (9 frames), and then the track
    is no longer shown. (Half out of the frame, the face is found through the mirrored frame,
    vcam/cut_faces.py, with the whole face's box: its last boxes jump between the visible part's
    and the whole face's, so the motion it goes on with is slower than the slide's 20 px.)"""
    photo = cv2.imread(str(media / "obama-720p.jpg"))
    pipeline = Pipeline.from_config(Config())
    results = []
    for index, shift in enumerate(range(500, 1100, 20)):
        frame = np.zeros_like(photo)
        frame[:, :photo.shape[1] - shift] = photo[:, shift:]
        results.append(pipeline.process(frame, index / 30).faces)
    detected = [index for index, faces in enumerate(results) if any(not face.predicted for face in faces)]
    last = detected[-1]
    assert detected == list(range(last + 1)) and len({face.track_id for faces in results for face in faces}) == 1
    assert results[last][0].box[0] < 0  # found even while cut by the border
    kept = [faces for faces in results[last + 1:] if faces]
    assert len(kept) == round(pipeline.tracker.settings.show_missed * 30)
    assert all(faces[0].predicted and faces[0].emotion == results[last][0].emotion for faces in kept)
    xs = [results[last][0].box[0]] + [faces[0].box[0] for faces in kept]
    assert all(-30 < later - earlier < -6 for earlier, later in zip(xs, xs[1:]))  # leftwards, up to 20 px a frame
    assert results[-1] == []
