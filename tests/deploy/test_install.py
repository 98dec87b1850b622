"""sco-etl installed from its wheel into a fresh venv, beside a Prefect project of its own.

The layout's folders install under one import root, `sco_etl`, so a user's project with its
own `flows/` package and `tasks.py` module imports both its own code and sco-etl's, and the
installed package carries its data (templates, reference tables, the deployments).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = ("pyproject.toml", "README.md", "flows", "tasks", "schemas", "warehouse")
TIMEOUT = 600

USER_SCRIPT = textwrap.dedent("""
    import flows, tasks
    from flows.etl import my_flow
    assert flows.OWNER == "user" and tasks.hello() == "user's tasks"
    import sco_etl.flows.rates, sco_etl.tasks.cbr.parse, sco_etl.warehouse.query
    from sco_etl.flows.deployments import load_specs
    from sco_etl.schemas.reference import sco_countries
    from sco_etl.tasks.page.render import environment
    assert "sco_etl/flows" in sco_etl.flows.rates.__file__.replace("\\\\", "/")
    assert "site-packages" in sco_etl.flows.rates.__file__
    assert [spec.name for spec in load_specs()] == ["rates", "news", "freshness", "maintenance"]
    assert sco_countries().num_rows > 40
    assert environment().get_template("page.html.j2")
    assert my_flow.name == "user-flow"
    print("both import")
""")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy: setuptools leaves a build/ folder in the tree it builds.
    source = tmp_path_factory.mktemp("source")
    for name in PACKAGED:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(source)], check=True, timeout=TIMEOUT, capture_output=True)
    (built,) = out.glob("sco_etl-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel) -> Path:
    """A new venv with sco-etl installed from the wheel; its dependencies are the test venv's
    (a path file, so the test venv's own editable install of sco-etl is not seen)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"], check=True,
                             capture_output=True, text=True).stdout.strip()
    Path(purelib, "test-venv-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=TIMEOUT, capture_output=True)
    return venv


@pytest.fixture
def user_project(tmp_path) -> Path:
    """A Prefect project of a user's own: a `flows` package and a `tasks.py` module."""
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "__init__.py").write_text('OWNER = "user"\n')
    (project / "flows" / "etl.py").write_text(
        "from prefect import flow\n\n@flow(name='user-flow')\ndef my_flow():\n    return 1\n")
    (project / "tasks.py").write_text("def hello():\n    return \"user's tasks\"\n")
    return project


def test_the_wheel_installs_under_one_import_root(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.startswith("sco_etl-")}
    assert tops == {"sco_etl"}
    for data in ("sco_etl/flows/prefect.yaml", "sco_etl/schemas/reference/sco_countries.csv",
                 "sco_etl/tasks/page/templates/page.html.j2"):
        assert data in names


def test_beside_a_project_with_its_own_flows_and_tasks(fresh_venv, user_project):
    run = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", USER_SCRIPT],
                         cwd=user_project, capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "both import"


def test_the_console_script_runs_from_the_project(fresh_venv, user_project):
    run = subprocess.run([str(fresh_venv / "bin" / "sco-etl"), "--help"], cwd=user_project,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rates" in run.stdout and "board" in run.stdout
