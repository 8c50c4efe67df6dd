"""bench/run_all.py --gather: RESULTS.md from the tables already written, without running a benchmark."""

from __future__ import annotations

import pytest

from bench import run_all


def test_gather_joins_the_written_tables_in_order_and_runs_nothing(tmp_path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    (results / "b.md").write_text("## B\n\nMachine: here\n", encoding="utf-8")
    (results / "a.md").write_text("## A\n", encoding="utf-8")
    monkeypatch.setattr(run_all, "RESULTS", results)
    monkeypatch.setattr(run_all, "BENCH", tmp_path)
    monkeypatch.setattr(run_all, "BENCHMARKS", {"a": ["a"], "missing": ["m"], "b": ["b"]})
    monkeypatch.setattr(run_all.subprocess, "run", lambda *a, **k: pytest.fail("--gather ran a benchmark"))

    assert run_all.main(["--gather"]) == 0

    text = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "no benchmark ran to write this file" in text
    assert "Last full run's machine" not in text
    assert text.index("## A") < text.index("## B")
