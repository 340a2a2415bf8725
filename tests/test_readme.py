"""The README's commands and examples stay true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from connectors.cli import app
from models import Site

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(line for block in _blocks("bash") for line in block.splitlines() if "pytest" in line)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_site_file_example_loads() -> None:
    site = Site.model_validate(yaml.safe_load(_blocks("yaml")[0]))
    assert site.root.limit_kw == 150
    assert set(site.guns()) == {"AC01/1", "DC01/1"}


def test_plan_example_prints_and_writes_a_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan.csv"
    result = CliRunner().invoke(app, ["plan", "--example", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "AC01/1" in result.output
    assert "status optimal" in result.output
    plan = pd.read_csv(out, index_col="step")
    assert len(plan) == 48
    assert plan.sum(axis=1).max() <= 150 + 1e-6


def test_python_example_runs() -> None:
    code = _blocks("python")[0]
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
