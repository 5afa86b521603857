"""training.compare: several nets, one recipe, one table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vcam.emotions import EMOTIONS

pytestmark = pytest.mark.training

def test_compare_trains_each_net_with_one_recipe_and_tabulates_them(tmp_path: Path, fer_npz: Path) -> None:
    from training import compare

    out = tmp_path / "comparison.md"
    argv = ["--data", str(fer_npz), "--models", "seed_cnn", "vcam_net", "--runs", str(tmp_path / "runs"),
            "--out", str(out), "--epochs", "1", "--limit", "200", "--val-limit", "100", "--batch-size", "50",
            "--ferplus-weight", "0.5", "--precision", "mixed_bfloat16", "--latency-repeats", "5",
            "--score-limit", "300"]
    assert compare.main(argv) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [row["model"] for row in rows] == ["seed_cnn", "vcam_net"]
    assert rows[0]["parameters"] == 2_345_607 and rows[1]["parameters"] == 1_167_015
    for row in rows:
        assert 0 <= row["accuracy"] <= 1 and set(row["recall"]) == set(EMOTIONS)
        assert row["ms_4_faces"] > 0 and row["train_seconds"] > 0
    text = out.read_text()
    assert "| seed_cnn |" in text and "--ferplus-weight 0.5" in text and "--precision mixed_bfloat16" in text
    first = rows[1]["train_seconds"]
    assert compare.main(argv) == 0  # a rerun resumes: nothing left to train, the time is kept
    assert json.loads(out.with_suffix(".json").read_text())["rows"][1]["train_seconds"] >= first

    # As on the GPU machine: score the Keras models, time nothing; then time the nets here.
    gpu_out, here_out = tmp_path / "gpu.md", tmp_path / "here.md"
    assert compare.main([*argv[:argv.index("--out")], "--out", str(gpu_out), *argv[argv.index("--out") + 2:],
                         "--no-latency"]) == 0
    gpu_rows = json.loads(gpu_out.with_suffix(".json").read_text())["rows"]
    assert all(row["ms_1_face"] is None for row in gpu_rows) and "| — |" in gpu_out.read_text()
    assert [row["accuracy"] for row in gpu_rows] == pytest.approx([row["accuracy"] for row in rows], abs=0.01)
    assert compare.main(["--rows", str(gpu_out.with_suffix(".json")), "--out", str(here_out),
                         "--latency-repeats", "5"]) == 0
    here_rows = json.loads(here_out.with_suffix(".json").read_text())["rows"]
    assert all(row["ms_1_face"] > 0 and row["ms_4_faces"] > 0 for row in here_rows)
    assert [row["accuracy"] for row in here_rows] == [row["accuracy"] for row in gpu_rows]
    for name, content in (("none.json", None), ("rows.json", {"recipe": "r", "rows": [{"model": "vcam_net"}]}),
                          ("nets.json", {"recipe": "r", "rows": [{**here_rows[0], "model": "resnet9"}]})):
        if content is not None:
            (tmp_path / name).write_text(json.dumps(content))
        assert compare.main(["--rows", str(tmp_path / name), "--out", str(here_out)]) == 2
