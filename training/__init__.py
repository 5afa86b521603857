"""Training, evaluation and export of vcam's emotion model (needs the `train` extra)."""
