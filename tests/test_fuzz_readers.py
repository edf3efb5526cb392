"""Seeded fuzzing of every reader of user files: projects (.loom), Keras models (.h5 and
Keras 3 .keras archives) and every data kind (CSV, NPY/NPZ, IDX, HDF5, images).

``tests/fuzz_corpus.py`` writes a few hundred hostile files per format (damaged bytes, mutated
JSON/HDF5/headers, small decompression bombs); ``tests/memory_probe.py`` reads each in its own
forked child and measures the child's peak RSS. For every file: the reader either loads it or
raises its own one-line error type (never another exception, never a crash), its peak memory
stays under 1 GB, and nothing in the folder is written or changed.
``LAYERLOOM_FUZZ_CASES`` sets the cases per format (default 200).
"""
from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

from tests.fuzz_corpus import FORMATS, make_corpus
from tests.memory_probe import probe

CASES = int(os.environ.get("LAYERLOOM_FUZZ_CASES", "200"))
ERROR_TYPE = {"loom": "ProjectError", "h5": "ModelFileError", "keras": "ModelFileError",
              "csv": "DataError", "npy": "DataError", "idx": "DataError", "hdf5": "DataError",
              "image": "DataError"}
PEAK_MB = 1024


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    corpus = make_corpus(root, CASES)
    before = _listing(root)
    results = probe([(reader, path) for _, reader, path in corpus], timeout=1800)
    return corpus, results, before, _listing(root)


def test_nothing_is_written(fuzz):
    _, _, before, after = fuzz
    assert after == before


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_file_loads_or_fails_with_one_clean_line(fuzz, fmt, capsys):
    corpus, results, _, _ = fuzz
    counts, worst, problems = collections.Counter(), (0.0, ""), []
    for (name, _, path), res in zip(corpus, results):
        if name != fmt:
            continue
        counts[res["outcome"]] += 1
        if res["peak_mb"] > worst[0]:
            worst = (res["peak_mb"], path.name)
        if res["outcome"] == "crash":
            problems.append(f"{path.name}: the reader crashed ({res.get('status')})")
        elif res["outcome"] == "error":
            message = res["message"]
            if res["type"] != ERROR_TYPE[fmt]:
                problems.append(f"{path.name}: {res['type']}: {message}\n{res['traceback']}")
            elif "\n" in message or not message.strip():
                problems.append(f"{path.name}: not one line: {message!r}")
            elif path.name not in message:
                problems.append(f"{path.name}: the message does not name the file: {message}")
        if res["peak_mb"] > PEAK_MB:
            problems.append(f"{path.name}: peak RSS {res['peak_mb']:.0f} MB")
    with capsys.disabled():
        print(f"\nfuzz {fmt}: {sum(counts.values())} cases, {counts['error']} clean errors, "
              f"{counts['ok']} loaded, {counts['crash']} crashes, {len(problems)} problems; "
              f"worst peak {worst[0]:.0f} MB ({worst[1]})")
    assert sum(counts.values()) == CASES
    assert not problems, "\n".join(problems[:10])
