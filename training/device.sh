#!/bin/sh
# Run a training command on the GPU machine (device tool), from the repository root, with
# carry [".device"] made by `python -m training.device_kit pack`: installs Keras' wheels,
# unpacks the faces to /tmp/fer2013.npz, and runs the command under KERAS_BACKEND=jax.
#   sh training/device.sh python3 -m training.train --data /tmp/fer2013.npz --run-dir /tmp/run ...
set -e
fix="run python -m training.device_kit pack here and carry .device"
[ -f .device/faces.kit.npz ] || { echo "error: .device/faces.kit.npz is missing; $fix" >&2; exit 2; }
ls .device/wheels/*.whl >/dev/null 2>&1 || { echo "error: .device/wheels has no wheels; $fix (without --no-wheels)" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/wheels/*.whl
export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# Unpack when there is no copy yet, or the kit is newer than the copy (a warm machine keeps /tmp).
[ /tmp/fer2013.npz -nt .device/faces.kit.npz ] || python3 -m training.device_kit unpack .device/faces.kit.npz /tmp/fer2013.npz
exec "$@"
