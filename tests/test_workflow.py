"""The GitHub Actions workflows in .github/workflows/ pass actionlint, which runs shellcheck on every
`run:` step, and .ci/run passes shellcheck. Both tools come with the dev extra (as wheels that carry
the binaries), so this runs wherever the README's test command does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO

from vcam.virtual_camera import MODPROBE

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
CI_RUN = REPO / ".ci" / "run"


def tool(name: str) -> str:
    """The dev extra's `name`, installed with this Python's scripts (or on PATH)."""
    found = shutil.which(name, path=os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")]))
    assert found, f"{name} is missing: pip install -e '.[dev]' installs it"
    return found


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    """actionlint over `files`, with the dev extra's shellcheck on every `run:` step."""
    return subprocess.run([tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), *map(str, files)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_workflows_pass_actionlint_and_shellcheck() -> None:
    assert WORKFLOWS, "no workflow in .github/workflows"
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"


def test_actionlint_here_finds_what_it_is_for(tmp_path: Path) -> None:
    # A linter that checks nothing passes everything: a workflow with a misspelt key, an unknown
    # runner and an unquoted variable in a step must fail, the last through shellcheck.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-lastest\n    step:\n      - run: echo hi\n"
                      "    steps:\n      - run: ls $HOME/x\n", encoding="utf-8")
    result = actionlint(broken)
    assert result.returncode == 1
    for rule in ("[syntax-check]", "[runner-label]", "[shellcheck]"):
        assert rule in result.stdout, f"actionlint did not report {rule}:\n{result.stdout}"


@pytest.mark.skipif(sys.platform == "win32", reason=".ci/run is a bash script for the Linux CI machine")
def test_ci_run_passes_shellcheck() -> None:
    # SC1091: .ci/run sources the virtual environment it makes, which a clean checkout lacks.
    result = subprocess.run([tool("shellcheck"), "--exclude=SC1091", str(CI_RUN)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linux_job_loads_v4l2loopback_as_the_doctor_tells_users_to() -> None:
    # What CI proves is the setup vcam doctor and the README advise, on a fixed device number.
    workflow = (REPO / ".github" / "workflows" / "platforms.yml").read_text(encoding="utf-8")
    assert MODPROBE.replace("devices=1", "devices=1 video_nr=10") in workflow
