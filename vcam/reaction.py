"""A reaction on demand: the emoji the user picks, on their own face for a few seconds.

The user asks for one from the tray's React submenu, the web page's buttons or a key; the next
frame the pipeline draws starts it, and it lasts REACTION_SECONDS of frame time (the frames'
own timestamps, so a file's frames and a camera's time it alike). While it lasts it replaces the
emotion the classifier reads on the user's face, which then comes back; the overlay cross-fades
each change as it does any change of emoji (vcam/overlay.py's CrossFades).
"""

from __future__ import annotations

from vcam.emotions import Emotion

REACTION_SECONDS = 3.0

REACTION_LABELS: dict[Emotion, str] = {
    Emotion.HAPPY: "😀 Happy",
    Emotion.SURPRISE: "😮 Surprised",
    Emotion.SAD: "😢 Sad",
    Emotion.ANGRY: "😠 Angry",
    Emotion.FEAR: "😨 Afraid",
    Emotion.DISGUST: "🤢 Disgusted",
    Emotion.NEUTRAL: "😐 Neutral",
}
"""The reactions in menu order, each with its label (the emoji and its name)."""


class Reaction:
    """`ask(emotion)` from the user; `showing(t)` on each frame: the emotion to show, or None."""

    def __init__(self, seconds: float = REACTION_SECONDS) -> None:
        self.seconds = seconds
        self._asked: Emotion | None = None
        self._emotion: Emotion | None = None
        self._since = 0.0

    def ask(self, emotion: Emotion) -> None:
        """Show `emotion` from the next frame on (a reaction already showing is replaced)."""
        self._asked = emotion

    @property
    def current(self) -> Emotion | None:
        """The reaction waiting for its first frame, else the one showing, else None."""
        return self._asked or self._emotion

    def showing(self, t: float) -> Emotion | None:
        """The reaction's emotion on the frame taken at `t` seconds: from the first frame after
        it was asked for, while less than `seconds` have passed since."""
        if self._asked is not None:
            self._emotion, self._since, self._asked = self._asked, t, None
        if self._emotion is not None and t - self._since >= self.seconds:
            self._emotion = None
        return self._emotion
