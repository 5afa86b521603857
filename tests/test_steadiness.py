"""vcam.steadiness: emoji changes a second per track, counted from annotate's records."""

from __future__ import annotations

import pytest

from vcam.steadiness import count_changes, measure_steadiness


def record(frame: int, *faces: tuple[int, str | None]) -> dict:
    return {"frame": frame, "faces": [{"id": track, "emotion": emotion} for track, emotion in faces]}


def test_changes_are_counted_per_track_over_its_own_frames() -> None:
    """Track 1 over 30 frames at 10 fps changes twice (happy → sad → happy); track 2, two frames
    long, never; a face not yet decided (None) is no change."""
    records = [record(frame, (1, "happy" if frame < 10 or frame >= 20 else "sad"),
                      *([(2, None if frame == 5 else "neutral")] if frame in (5, 6) else [])) for frame in range(30)]
    steadiness = measure_steadiness(records, fps=10)
    one, two = steadiness.tracks
    assert (one.track_id, one.frames, one.changes, one.seconds) == (1, 30, 2, 3.0)
    assert one.changes_per_second == pytest.approx(2 / 3)
    assert (two.changes, two.seconds) == (0, 0.2)
    assert steadiness.long_tracks() == (one,)
    assert str(steadiness) == "2 tracks, 1 of 1 s or more; emoji changes a second: #1 0.67"


def test_count_changes_ignores_undecided_frames() -> None:
    assert count_changes([None, "happy", None, "happy", "sad", "sad", None, "happy"]) == 2
    assert count_changes([]) == 0


def test_the_unsure_emoji_before_a_tracks_first_sure_one_is_no_change() -> None:
    """A new face shown unsure (neutral) while its reading settles, then happy, then sad: one change."""
    emotions = ["neutral"] * 4 + ["happy"] * 4 + ["sad"] * 2
    records = [{"frame": frame, "faces": [{"id": 1, "emotion": emotion, "unsure": frame < 4}]}
               for frame, emotion in enumerate(emotions)]
    assert measure_steadiness(records, fps=10).tracks[0].changes == 1
