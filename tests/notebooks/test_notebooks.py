"""The planners' notebooks run from top to bottom, stored without outputs, and end with their answer.

Each runs in a temporary directory with `GRIDCHARGE_FIGURE_DIR` pointing there, so the figure the
README shows is produced by the notebook and nothing is written into the repository.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TIMEOUT_S = 300
EXPECTED = {
    "capacity_planning": ("capacity_planning.png", "With the LP, a connection of"),
    "tariff_savings": ("tariff_savings.png", "Planning with the time-of-use prices, the LP cut"),
    "live_site": ("live_site.png", "On the live site, the measured load was within the grid limit"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_notebook_is_stored_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert notebook.cells[0].cell_type == "markdown"
    assert "**Question.**" in notebook.cells[0].source


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_notebook_runs_and_ends_with_its_answer(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figure, answer_start = EXPECTED[name]
    monkeypatch.setenv("GRIDCHARGE_FIGURE_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=TIMEOUT_S, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    last = notebook.cells[-1]
    printed = "".join(output.get("text", "") for output in last.outputs if output.output_type == "stream")
    assert printed.startswith(answer_start), printed
    assert (tmp_path / figure).stat().st_size > 10_000
