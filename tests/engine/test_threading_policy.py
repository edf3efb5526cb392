"""engine.threading_policy: one thread pool owns the cores, BLAS runs on one thread."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import threading_policy as policy

ROOT = Path(__file__).resolve().parents[2]


def _child_output(code: str) -> str:
    """stdout of ``code`` run by a fresh interpreter in the repository (no user BLAS setting)."""
    env = {k: v for k, v in os.environ.items() if k != "LAYERLOOM_BLAS_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_blas_runs_on_one_thread_after_import():
    if policy.blas_controller() is None:
        pytest.skip("numpy does not use OpenBLAS here")
    assert policy.blas_controller().get_num_threads() == 1
    assert policy.describe()["blas_threads"] == 1


def test_blas_limited_even_when_numpy_was_loaded_first():
    """A user script that imports numpy before the engine still gets the policy."""
    code = ("import numpy, threadpoolctl\n"
            "import engine\n"
            "from engine import threading_policy as p\n"
            "c = p.blas_controller()\n"
            "print(-1 if c is None else c.get_num_threads())\n")
    assert _child_output(code).strip() in ("1", "-1")


def test_small_work_stays_on_the_calling_thread():
    assert policy.workers(policy.PARALLEL_MIN_FLOPS - 1) == 1
    assert policy.workers(1e12) == policy.threads()
    assert policy.workers(1e12, items=1) == 1


def test_chunks_are_several_per_thread_but_not_tiny():
    assert policy.chunks(1e12, 10_000, 1) == 1
    assert policy.chunks(1e12, 10_000, 2) == 2 * policy.CHUNKS_PER_THREAD
    assert policy.chunks(1e12, 3, 2) == 3                      # never more than the items
    assert policy.chunks(policy.MIN_CHUNK_FLOPS * 3, 10_000, 2) == 4     # 2 per thread
    assert policy.chunks(policy.MIN_CHUNK_FLOPS * 3, 10_000, 4) == 4


def test_peer_environment_drops_only_what_the_policy_set(monkeypatch):
    monkeypatch.setitem(policy.ENV_APPLIED, "GOMP_SPINCOUNT", "0")
    env = policy.peer_environment({"GOMP_SPINCOUNT": "0", "PATH": "/bin"})
    assert env == {"PATH": "/bin"}


def test_bad_blas_thread_setting_is_named(monkeypatch):
    monkeypatch.setenv("LAYERLOOM_BLAS_THREADS", "many")
    with pytest.raises(ValueError, match="LAYERLOOM_BLAS_THREADS: expected a whole number"):
        policy.blas_threads_wanted()


def test_numba_uses_the_cores_this_process_may_run_on():
    assert policy.CORES >= 1
    assert 1 <= policy.threads() <= max(policy.CORES, int(os.environ["NUMBA_NUM_THREADS"]))


def test_the_whole_pool_only_while_other_programs_load_the_cores(monkeypatch):
    probe = policy._LoadProbe()
    readings = iter([0.0, 1.0, 1.05, 1.1])           # CPU-seconds of all our cores
    monkeypatch.setattr(probe, "_busy_seconds", lambda: next(readings))
    monkeypatch.setattr(policy.time, "process_time", lambda: 0.0)   # none of it ours
    probe.update(0.0)
    assert not probe.contended
    probe.update(1.0)                                 # others: 1 core's worth
    assert probe.contended and probe.others == pytest.approx(1.0)
    probe.update(2.0)                                 # 0.05 cores: below half the limit
    assert not probe.contended
    probe.update(2.25)                                # 0.2 cores: below the limit
    assert not probe.contended


def test_threads_follow_the_probe_and_apply_to_numba(monkeypatch):
    import numba
    monkeypatch.setattr(policy, "_load", policy._LoadProbe())
    policy._load.at = float("inf")                    # no new probe in this test
    policy._load.contended = True
    assert policy.threads() == policy.pool_size() == numba.get_num_threads()
    policy._load.contended = False
    assert policy.threads() == min(policy.CORES, policy.pool_size()) == numba.get_num_threads()


def test_max_threads_caps_idle_and_loaded_choices(monkeypatch):
    import numba
    monkeypatch.setattr(policy, "_load", policy._LoadProbe())
    monkeypatch.setattr(policy, "_max_threads", None)
    policy._load.at = float("inf")                    # no new probe in this test
    policy._load.contended = True
    policy.set_max_threads(1)
    assert policy.threads() == 1 == numba.get_num_threads()
    assert policy.workers(1e12) == 1
    policy._load.contended = False
    assert policy.threads() == 1
    policy.set_max_threads(None)
    assert policy.threads() == min(policy.CORES, policy.pool_size()) == numba.get_num_threads()
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_max_threads: expected a whole number"):
            policy.set_max_threads(bad)


@pytest.mark.parametrize("args, numba_threads", [([], None), (["--threads", "2"], None),
                                                  (["--threads", "1"], 1)])
def test_throughput_bench_keeps_blas_on_one_thread(args, numba_threads):
    """bench/throughput.py leaves BLAS at one thread and --threads N caps numba's threads (it
    once set OpenBLAS to N = 2 threads, which spun against numba's: the seed CNN ran at ~60 %,
    and it could not lower numba's threads)."""
    argv = ["throughput", "no_such_workload", *args]
    code = (f"import sys; sys.argv = {argv!r}\n"
            "from bench import throughput\n"
            "throughput.main()\n"
            "from engine import threading_policy as p\n"
            "c = p.blas_controller()\n"
            "print('blas', -1 if c is None else c.get_num_threads(), 'numba', p.threads())\n")
    out = _child_output(code)
    last = out.strip().splitlines()[-1].split()
    assert last[1] in ("1", "-1"), out
    if numba_threads is not None:
        assert last[3] == str(numba_threads), out


def test_background_threads_use_one_thread():
    import threading

    import numba
    seen = []

    def helper():
        policy.background_thread()
        seen.append((policy.threads(), numba.get_num_threads()))
    t = threading.Thread(target=helper)
    t.start()
    t.join()
    assert seen == [(1, 1)]


def test_workers_spin_only_with_no_more_threads_than_cores(monkeypatch):
    """Idle: the workers poll between regions (GOMP_SPINCOUNT > 0, one thread per core);
    contended: the pool has more threads than cores and GNU OpenMP throttles the spin."""
    monkeypatch.setattr(policy, "SPINS", 30000)            # a user's GOMP_SPINCOUNT
    monkeypatch.setattr(policy._load, "contended", False)
    monkeypatch.setattr(policy._load, "at", 1e18)           # no new probe during the test
    assert policy.spinning() == (min(policy.CORES, policy.pool_size()) <= policy.CORES)
    monkeypatch.setattr(policy._load, "contended", True)
    assert policy.spinning() == (policy.pool_size() <= policy.CORES)
    monkeypatch.setattr(policy._load, "contended", False)
    monkeypatch.setattr(policy, "SPINS", 0)
    assert not policy.spinning()


@pytest.mark.parametrize("value, spins", [("0", 0), ("30000", 30000), ("infinite", 1 << 62),
                                          ("junk", 300000)])
def test_spin_setting_is_read_as_gnu_openmp_reads_it(monkeypatch, value, spins):
    monkeypatch.setenv("GOMP_SPINCOUNT", value)
    assert policy._spin_setting() == spins


def test_the_engine_sets_a_spin_count_unless_the_user_did():
    code = "import os, engine; print(os.environ['GOMP_SPINCOUNT'])"
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    for extra, want in (({}, str(policy.SPIN_COUNT)), ({"GOMP_SPINCOUNT": "20000"}, "20000")):
        out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT,
                             env={**env, **extra}, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == want
