"""benchmarks/claims.py and portability.py: the asserts' values are recorded faithfully, and reported with their margins."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import claims  # noqa: E402
import portability  # noqa: E402


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A fresh IPython shell with the recorder loaded; yields (shell, records file)."""
    from IPython.core.interactiveshell import InteractiveShell

    records = tmp_path / "claims.jsonl"
    monkeypatch.setenv("AAD_CLAIMS_FILE", str(records))
    monkeypatch.setenv("AAD_CLAIMS_NOTEBOOK", "99_test")
    ip = InteractiveShell()
    claims.load_ipython_extension(ip)
    yield ip, records
    ip.ast_transformers.clear()


def read(records):
    return [json.loads(line) for line in records.read_text().splitlines()]


def test_comparisons_are_recorded_once_each_with_their_operands(shell):
    ip, records = shell
    assert ip.run_cell("calls = []\ndef f(v):\n    calls.append(v)\n    return v").success
    assert ip.run_cell("assert f(0.3) < 0.5 and 0.1 < f(0.3) <= 0.4\nassert {1, 2} == {2, 1}").success
    assert ip.user_ns["calls"] == [0.3, 0.3]  # each operand evaluated once, as without the recorder
    first, chain, sets = read(records)
    assert (first["cell"], first["part"], first["ops"], first["values"], first["held"]) == (1, "f(0.3) < 0.5", ["<"], [0.3, 0.5], True)
    assert (chain["ops"], chain["values"]) == (["<", "<="], [0.1, 0.3, 0.4])
    assert sets["values"] == [[1, 2], [1, 2]] and first["notebook"] == "99_test"


def test_a_failing_assert_still_fails_and_short_circuits_as_python_does(shell):
    ip, records = shell
    result = ip.run_cell("x = 2\nassert x > 3 and 1 / 0, 'x too small'")
    assert isinstance(result.error_in_exec, AssertionError) and str(result.error_in_exec) == "x too small"
    result = ip.run_cell("assert 5 < x < 1 / 0")  # the chain stops at its first false link
    assert isinstance(result.error_in_exec, AssertionError)
    failed, chain = read(records)
    assert failed["held"] is False and failed["values"] == [2, 3]
    assert chain["values"] == [5, 2] and chain["ops"] == ["<"]


def test_other_asserts_record_their_truth_and_asserts_in_functions_their_calling_cell(shell):
    ip, records = shell
    ip.run_cell("import numpy as np\ndef check(v):\n    assert v >= 0")
    ip.run_cell("assert np.all(np.arange(3) >= 0)\nfor v in (1, 2):\n    check(v)")
    truth, once, twice = read(records)
    assert (truth["ops"], truth["held"], truth["cell"]) == ([], True, 1)
    assert [once["values"], twice["values"]] == [[1, 0], [2, 0]] and once["cell"] == twice["cell"] == 1


def test_nothing_is_rewritten_without_a_records_file(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.delenv("AAD_CLAIMS_FILE", raising=False)
    ip = InteractiveShell()
    before = list(ip.ast_transformers)
    claims.load_ipython_extension(ip)
    assert ip.ast_transformers == before and "__claims__" not in ip.user_ns


@pytest.mark.parametrize("ops, values, expected", [
    (["<"], [0.3, 0.5], 0.2), ([">="], [0.96, 0.96], 0.0), ([">"], [0.4, 0.5], -0.1),
    (["<", "<"], [0.3, 0.5, 0.55], 0.05), (["=="], [4, 4], 0), (["=="], ["a", "a"], None), (["in"], [1, [1]], None),
])
def test_margin_is_the_distance_from_failing(ops, values, expected):
    assert portability.margin(ops, values) == pytest.approx(expected) if expected is not None else portability.margin(ops, values) is None


def test_the_report_shows_each_claim_per_setting_with_its_worst_margin(tmp_path):
    record = {"notebook": "03_x", "cell": 9, "assert": "assert auc < 0.5", "part": "auc < 0.5", "ops": ["<"], "held": True}
    for label, value in (("default", 0.32), ("avx2", 0.41), ("default+seeds3", 0.47)):
        (tmp_path / f"{label}.jsonl").write_text(json.dumps({**record, "values": [value, 0.5]}) + "\n")
        (tmp_path / f"{label}.runs.jsonl").write_text(json.dumps({"notebook": "03_x", "passed": True, "seconds": 60.0, "failed": []}) + "\n")
    table = portability.report(tmp_path)
    row = next(line for line in table.splitlines() if line.startswith("| 03 |"))
    assert row == "| 03 | 9 | `auc < 0.5` | 0.32 | 0.41 | 0.32 to 0.47 (3) | 0.03 |"


def test_writing_the_report_keeps_the_sections_written_by_hand(tmp_path):
    record = {"notebook": "03_x", "cell": 9, "assert": "assert auc < 0.5", "part": "auc < 0.5", "ops": ["<"], "held": True, "values": [0.32, 0.5]}
    (tmp_path / "default.jsonl").write_text(json.dumps(record) + "\n")
    written = tmp_path / "portability.md"
    written.write_text(f"# an older report\n\n| 03 | 9 | stale |\n\n{portability.KEPT}\n\n## Chapter 08, by hand\n\nkept text\n")
    portability.main(["report", "--out", str(tmp_path), "--write", str(written)])
    text = written.read_text()
    assert "stale" not in text and "| 03 | 9 | `auc < 0.5` | 0.32 |" in text
    assert text.endswith(f"\n{portability.KEPT}\n\n## Chapter 08, by hand\n\nkept text\n")
    written.write_text("no marker: the whole file is the report\n")
    portability.main(["report", "--out", str(tmp_path), "--write", str(written)])
    assert portability.KEPT not in written.read_text() and "no marker" not in written.read_text()
