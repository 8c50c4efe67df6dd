"""A seeded slice of bench/fuzz.py: hostile files through the studio's entry points, each in a forked child
with a time and memory cap. Every one must be accepted or refused with a clear sentence (the full run of
1,200 inputs is `python bench/fuzz.py`, results in bench/results/fuzz.md)."""

from __future__ import annotations

import pytest

from bench import fuzz

# Inputs per kind: about 30 s in all on a 2-core CPU (a video costs a probe plus two decoded frames).
COUNT = {"card": 40, "bundle": 40, "image": 40, "video": 6}
SEED = 15


@pytest.mark.parametrize("kind", fuzz.KINDS)
def test_hostile_inputs_are_accepted_or_refused_clearly_within_the_caps(kind):
    results = fuzz.fuzz(COUNT[kind], SEED, (kind,))
    assert len(results) == COUNT[kind]
    failures = [f"{r['file']} ({r['family']}): {r['outcome']} {r.get('detail', '')}" for r in results
                if r["outcome"] in fuzz.FAILURES]  # fmt: skip
    assert not failures, "\n".join(failures)
    assert {r["outcome"] for r in results} == {"ok", "refused"}  # the slice exercises both paths


def test_the_fuzz_sees_a_planted_failure(monkeypatch):
    """The harness itself can fail: an entry point that crashes, hangs or hogs memory is reported as such."""
    import time

    def broken(case):
        if case.index == 0:
            raise KeyError("a bug")
        if case.index == 1:
            time.sleep(60)
        bytearray(400 << 20)[::4096] = b"\1" * (100 << 8)  # touch 400 MB

    monkeypatch.setattr(fuzz, "feed", broken)
    monkeypatch.setitem(fuzz.WALL_CAP_S, "card", 2.0)
    outcomes = [r["outcome"] for r in fuzz.fuzz(3, SEED, ("card",))]
    assert outcomes == ["crash", "timeout", "memory"]
