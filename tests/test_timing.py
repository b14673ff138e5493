"""The notebook timing of `make test` (the project's root conftest.py): what it counts as the notebook's own CPU."""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
timing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(timing)
linux = pytest.mark.skipif(timing.machine_busy_s() is None, reason="reads Linux's /proc")

BURN = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass"


@linux
def test_a_finished_child_and_grandchild_count_as_the_test_process_own_cpu():
    before = timing.own_cpu_s()
    subprocess.run([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BURN!r}])"], check=True)
    assert 0.9 <= timing.own_cpu_s() - before < 3  # the grandchild's second, and two interpreters' start-up


@linux
def test_a_process_outside_the_tree_counts_as_other_work():
    outsider = subprocess.Popen([sys.executable, "-c", f"import os\nif os.fork(): os._exit(0)\n{BURN}"])  # orphaned at once
    outsider.wait()
    busy, own = timing.machine_busy_s(), timing.own_cpu_s()
    time.sleep(1.5)
    own_used = timing.own_cpu_s() - own
    assert own_used < 0.5 and (timing.machine_busy_s() - busy) - own_used >= 0.8


def test_a_notebook_is_judged_without_the_cores_other_work_took(monkeypatch):
    monkeypatch.setitem(timing._seconds, "notebooks/x.ipynb", 100.0)
    monkeypatch.setitem(timing._others_cpu_s, "notebooks/x.ipynb", 60.0 * timing.CORES)
    assert timing.own_seconds("notebooks/x.ipynb") == pytest.approx(40.0)
    monkeypatch.setitem(timing._others_cpu_s, "notebooks/x.ipynb", 0.0)
    assert timing.own_seconds("notebooks/x.ipynb") == 100.0 > timing.budget("notebooks/x.ipynb")
