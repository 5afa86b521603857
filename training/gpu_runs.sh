#!/bin/sh
# Issue 5's GPU runs, side by side on the one GPU of the device tool, each within a time budget
# (python -m training.fast --time-budget), then the results packed into $OUT:
#   sh training/device.sh sh training/gpu_runs.sh ["NAME FLAGS..." ...]   (device tool, carry [".device"])
# Each argument is one run: its name, then training.fast's flags for it (split at spaces, so no
# value may hold one), e.g.
#   sh training/device.sh sh training/gpu_runs.sh "deep --model vcam_deep" "reg --model vcam_deep --erasing 0.4"
# With none, the two runs that made the shipped model: "deep --model vcam_deep" "wide --model vcam_wide".
# $OUT gets summary.txt (each run's exit status and result), logs.tar.gz (each run's output,
# log.csv and result.json) and the nets, best PublicTest accuracy first, as
# NAME.model.keras.part-aa, -ab... (15 MiB pieces: a file that comes back is at most 16 MiB, 64 MiB
# in all; a run that failed sends its fallback.keras, if any); here
# `cat NAME.model.keras.part-* > NAME.keras` rejoins one.
# DATA, BUDGET (whole seconds per run) and FAST_ARGS (extra flags for every run, e.g. --limit for a
# smoke run) can be set.
set -u
: "${OUT:?set OUT to the folder the results go to}"
DATA=${DATA:-/tmp/fer2013.npz}
BUDGET=${BUDGET:-470}
RUNS=${RUNS:-$(mktemp -d /tmp/runs.XXXXXX)}  # a fresh folder: a warm machine keeps /tmp
case $BUDGET in ''|0*|*[!0-9]*) echo "error: BUDGET must be whole seconds above 0, not '$BUDGET'" >&2; exit 2 ;; esac
mkdir -p "$RUNS" "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
run() {
    name=$1; shift
    rm -rf "${RUNS:?}/$name" "$RUNS/$name.log" "$RUNS/$name.rc"  # nothing of an earlier run is sent as this one's
    names="${names:-} $name"
    # shellcheck disable=SC2086
    timeout $((BUDGET + 60)) python3 -m training.fast --data "$DATA" --time-budget "$BUDGET" --out "$RUNS/$name" \
        "$@" ${FAST_ARGS:-} > "$RUNS/$name.log" 2>&1 &
    pids="${pids:-} $name:$!"
}
[ $# -gt 0 ] || set -- "deep --model vcam_deep" "wide --model vcam_wide"
# Each run's JAX takes this share of the GPU's memory up front: 0.25 each for up to three runs.
XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-$(awk "BEGIN { f = 0.9 / $#; print (f < 0.25 ? f : 0.25) }")}
export XLA_PYTHON_CLIENT_MEM_FRACTION PYTHONUNBUFFERED=1
set -f  # a run's flags are split at spaces, never expanded as file names
seen=" "
for spec in "$@"; do  # names first, so that a bad one stops the script before any run starts
    case ${spec%% *} in ''|-*|*[!A-Za-z0-9_-]*)
        echo "error: a run is its name (letters, digits, '_', '-', not first) then its flags, not '$spec'" >&2; exit 2 ;;
    esac
    case $seen in *" ${spec%% *} "*)
        echo "error: two runs are named '${spec%% *}'; give each run its own name" >&2; exit 2 ;;
    esac
    seen="$seen${spec%% *} "
done
for spec in "$@"; do
    # shellcheck disable=SC2086
    run $spec
done
set +f
for entry in $pids; do  # each run's exit status, for the summary (124: stopped by timeout)
    wait "${entry#*:}"; echo $? > "$RUNS/${entry%%:*}.rc"
done
python3 -m training.device_kit send "$RUNS" "$OUT" $names
for name in $names; do echo "== $name"; grep -v "^Epoch " "$RUNS/$name.log" | tail -n 8; done
ls "$OUT"/*.part-aa >/dev/null 2>&1 || { echo "error: no run left a net to send; see the logs above" >&2; exit 1; }
