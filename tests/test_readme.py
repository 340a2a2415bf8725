"""The README's commands and examples stay true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import cast

import pandas as pd
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from connectors.api.app import create_app
from connectors.cli import app
from connectors.runtime import Runtime
from connectors.settings import Settings
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


def _setting_variables(model: type[BaseModel], prefix: str = "GRIDCHARGE_") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names += _setting_variables(field.annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_in_the_readme() -> None:
    missing = [name for name in _setting_variables(Settings) if f"`{name}`" not in README]
    assert not missing, f"settings missing from the README's table: {missing}"


def test_every_api_path_the_readme_names_exists() -> None:
    spec_paths = set(create_app(cast(Runtime, None), []).openapi()["paths"])
    named = set(re.findall(r"(/api/v1/[A-Za-z0-9_{}./-]*[A-Za-z0-9_}])", README)) - {"/api/v1/docs"}
    assert named, "the README names no API path"
    unknown = [path for path in named if path not in spec_paths]
    assert not unknown, f"the README names API paths that do not exist: {unknown}"


def test_the_first_command_ends_in_the_demo_whose_options_the_readme_names() -> None:
    first = _blocks("bash")[0].strip()
    assert first.endswith("&& gridcharge demo")
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--speed", "--duration", "--seed", "--api-port", "--ocpp-port", "--store", "--no-live"):
        assert f"`{option}" in README, option
        assert option in result.output, option
