"""The seven emotions vcam reads and shows, in the order the emotion model outputs them.

A module of its own, importing nothing, so that the settings, the web API and training can name
the emotions without loading OpenCV or a model."""

from __future__ import annotations

from enum import StrEnum


class Emotion(StrEnum):
    """An emotion by its name, as its emoji file is named (the reaction a user asks for, too)."""

    ANGRY = "angry"
    DISGUST = "disgust"
    FEAR = "fear"
    HAPPY = "happy"
    SAD = "sad"
    SURPRISE = "surprise"
    NEUTRAL = "neutral"


EMOTIONS: tuple[str, ...] = tuple(emotion.value for emotion in Emotion)
"""The seven FER2013 classes, in the order the emotion model outputs them."""
