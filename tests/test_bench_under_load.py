"""bench/under_load.py's rounds: each round's ratio from its own engine and peer runs."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from bench import under_load


@pytest.fixture
def drifting_workload(monkeypatch):
    """A workload whose machine runs at half speed every other round, engine and peers alike."""
    calls = []

    def main_results(epochs, peers):
        calls.append((epochs, peers))
        speed = 1.0 if len(calls) % 2 else 0.5
        rates = {"engine": 300.0 * speed}
        if "torch" in peers:
            rates["torch"] = 100.0 * speed
        if "keras" in peers:
            rates["keras"] = 120.0 * speed * (1.5 if len(calls) == 3 else 1.0)
        return rates

    module = types.ModuleType("bench.workloads._drift")
    module.main_results = main_results
    module.IDLE_TARGET = 2.0
    monkeypatch.setitem(sys.modules, "bench.workloads._drift", module)
    monkeypatch.setattr(under_load, "cpu_busy_fraction", lambda seconds: 0.0)
    return calls


def test_rounds_run_back_to_back_and_report_each_rounds_ratio(drifting_workload, capsys):
    level = under_load.run_level(["_drift"], 0, 2, ("torch", "keras"), rounds=3)
    assert drifting_workload == [(2, ("torch", "keras"))] * 3
    assert len(level["rounds"]["_drift"]) == 3
    # per framework the median over rounds
    assert level["results"]["_drift"] == {"engine": 300.0, "torch": 100.0, "keras": 120.0}
    # each round against its own best peer: 2.5, 2.5, 300/180 = 1.67 -> median 2.5
    best, mid, low, high = under_load.round_ratios(level["rounds"]["_drift"])
    assert (best, mid, high) == ("keras", 2.5, 2.5)
    assert low == pytest.approx(300 / 180)
    misses = under_load.report([level], ["_drift"])
    out = capsys.readouterr().out
    assert "2.50x keras" in out and "(rounds 1.67-2.50x)" in out
    assert misses == []


def test_one_round_reports_as_before(drifting_workload, capsys):
    level = under_load.run_level(["_drift"], 0, 1, ("torch",))
    assert level["results"]["_drift"] == {"engine": 300.0, "torch": 100.0}
    under_load.report([level], ["_drift"])
    out = capsys.readouterr().out
    assert "3.00x torch" in out and "rounds" not in out.split("_drift\n")[-1]


def test_a_round_below_target_is_a_miss_only_when_the_median_is(drifting_workload, capsys):
    level = under_load.run_level(["_drift"], 0, 1, ("keras",), rounds=3)
    level["rounds"]["_drift"][2]["keras"] = 120.0           # every round 2.5x
    level["rounds"]["_drift"][1]["keras"] = 1000.0          # one round's peer far faster
    misses = under_load.report([level], ["_drift"])
    assert misses == []
    level["rounds"]["_drift"][0]["keras"] = 1000.0          # now two of three
    assert under_load.report([level], ["_drift"]) == [
        "_drift with 0 busy: 0.30x keras (target 2.0x)"]
    capsys.readouterr()


def test_rounds_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        under_load.main(["--rounds", "0", "--no-peers", "_drift"])
    assert "--rounds" in capsys.readouterr().err


def test_peer_versions_are_kept_and_printed(monkeypatch):
    from bench.workloads import peers
    monkeypatch.setattr(peers, "peer_python", lambda name: sys.executable)
    monkeypatch.setattr(peers, "VERSIONS", {})
    code = 'import json; print(json.dumps({"rates": [1.0], "version": "9.9"}))'
    assert peers.run_peer("torch", code, {"x": np.zeros(1)}) == {"rates": [1.0], "version": "9.9"}
    assert peers.run_peer("keras", 'print("{}")', {"x": np.zeros(1)}) == {}
    assert peers.VERSIONS == {"torch": "9.9"}
    assert under_load.peer_versions() == "torch 9.9"
    monkeypatch.setattr(peers, "VERSIONS", {})
    assert under_load.peer_versions() == "none ran"
