#!/bin/sh
# Run a training command on the GPU machine (device tool), from the repository root, with
# carry [".device"] made by `python -m training.device_kit pack`: installs Keras' wheels,
# unpacks the faces to /tmp/fer2013.npz, and runs the command under KERAS_BACKEND=jax.
#   sh training/device.sh python3 -m training.train --data /tmp/fer2013.npz --run-dir $OUT/run ...
set -e
[ -f .device/faces.kit.npz ] || { echo "error: .device/faces.kit.npz is missing; run python -m training.device_kit pack here and carry .device" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/wheels/*.whl
export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
[ -f /tmp/fer2013.npz ] || python3 -m training.device_kit unpack .device/faces.kit.npz /tmp/fer2013.npz
exec "$@"
