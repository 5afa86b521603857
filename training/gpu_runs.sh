#!/bin/sh
# Issue 5's GPU runs, side by side on the one GPU of the device tool, each within a time budget
# (python -m training.fast --time-budget), then the results packed into $OUT:
#   sh training/device.sh sh training/gpu_runs.sh       (device tool, carry [".device"])
# $OUT gets summary.txt (each run's exit status and result), logs.tar.gz (each run's output,
# log.csv and result.json) and the nets, best PublicTest accuracy first, as
# NAME.model.keras.part-aa, -ab... (15 MiB pieces: a file that comes back is at most 16 MiB, 64 MiB
# in all; a run that failed sends its fallback.keras, if any); here
# `cat NAME.model.keras.part-* > NAME.keras` rejoins one.
# DATA, BUDGET (whole seconds per run) and FAST_ARGS (extra flags, e.g. --limit for a smoke run) can be set.
set -u
: "${OUT:?set OUT to the folder the results go to}"
DATA=${DATA:-/tmp/fer2013.npz}
BUDGET=${BUDGET:-470}
RUNS=${RUNS:-/tmp/runs}
case $BUDGET in ''|*[!0-9]*) echo "error: BUDGET must be whole seconds, not '$BUDGET'" >&2; exit 2 ;; esac
mkdir -p "$RUNS" "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.25} PYTHONUNBUFFERED=1
run() {
    name=$1; shift
    # shellcheck disable=SC2086
    timeout $((BUDGET + 60)) python3 -m training.fast --data "$DATA" --time-budget "$BUDGET" --out "$RUNS/$name" \
        "$@" ${FAST_ARGS:-} > "$RUNS/$name.log" 2>&1 &
    pids="${pids:-} $name:$!"
}
run deep --model vcam_deep
run wide --model vcam_wide
for entry in $pids; do  # each run's exit status, for the summary (124: stopped by timeout)
    wait "${entry#*:}"; echo $? > "$RUNS/${entry%%:*}.rc"
done
python3 - "$RUNS" "$OUT" <<'EOF'
import json, sys, tarfile
from pathlib import Path

runs, out = Path(sys.argv[1]), Path(sys.argv[2])
piece, room, files = 15 * 2**20, 60 * 2**20, 6
with tarfile.open(out / "logs.tar.gz", "w:gz") as logs:
    for path in sorted(runs.glob("*.log")) + sorted(runs.glob("*/log.csv")) + sorted(runs.glob("*/result.json")):
        logs.add(path, arcname=str(path.relative_to(runs)))
results = []
for log in sorted(runs.glob("*.log")):  # every run started, also one that failed before its folder existed
    folder = runs / log.stem
    status = (runs / f"{log.stem}.rc").read_text().strip() if (runs / f"{log.stem}.rc").exists() else "?"
    result = json.loads((folder / "result.json").read_text()) if (folder / "result.json").exists() else {}
    model = folder / "model.keras" if (folder / "model.keras").exists() else folder / "fallback.keras"
    results.append((result.get("val_accuracy", -1.0), log.stem, status, model, result))
lines = []
for accuracy, name, status, model, result in sorted(results, key=lambda row: row[0], reverse=True):
    lines.append(f"{name} (exit {status}): {json.dumps(result) if result else 'no result; see its log'}")
    if not model.exists():
        continue
    data = model.read_bytes()
    parts = [data[start:start + piece] for start in range(0, len(data), piece)]
    if len(data) > room or len(parts) > files:
        lines.append(f"  {model.name} ({len(data):,} bytes) left behind: no room")
        continue
    room, files = room - len(data), files - len(parts)
    for index, part in enumerate(parts):
        (out / f"{name}.{model.name}.part-a{chr(97 + index)}").write_bytes(part)
    lines.append(f"  sent {model.name} as {len(parts)} piece(s), {len(data):,} bytes")
(out / "summary.txt").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
for log in "$RUNS"/*.log; do echo "== $log"; grep -v "^Epoch " "$log" | tail -n 8; done
