"""The seven emotions vcam reads and shows, in the order the emotion model outputs them.

A module of its own, importing nothing, so that the settings, the web API and training can name
the emotions without loading OpenCV or a model."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The seven FER2013 classes, in the order the emotion model outputs them."""
