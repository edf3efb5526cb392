"""Issue 13's bombs, each read in a child process whose peak RSS is measured: every one is a
one-line error of the reader's type, and none takes more than 1 GB (the files are a few MB at
most; trusting them would take from 1.5 to thousands of GB)."""
import numpy as np

from tests import bombs
from tests.memory_probe import probe

PEAK_MB = 1024
MB = bombs.MB


def test_bombs_are_refused_within_1_gb(tmp_path):
    def h5_huge_kernel(path):
        bombs.h5_model(path)
        return bombs.replace_kernel(path, lambda g, n: g.create_dataset(
            n, shape=(1 << 40,), dtype="f4", chunks=(1 << 16,)))
    folder = tmp_path / "images" / "big"
    folder.mkdir(parents=True)
    bombs.png_bomb(folder / "a.png")
    bombs.png_bomb(folder / "b.png")
    under = tmp_path / "under_the_limit" / "big"      # 36 million pixels each: decodable
    under.mkdir(parents=True)
    for name in ("a.png", "b.png", "c.png"):
        bombs.png_bomb(under / name, 6000, 6000)
    cases = [
        ("loom", bombs.loom_weights_bomb(tmp_path / "weights.loom"), "ProjectError"),
        ("loom", bombs.loom_json_bomb(tmp_path / "json.loom"), "ProjectError"),
        ("loom", bombs.loom_json_bomb(tmp_path / "liar.loom", declared=100), "ProjectError"),
        ("loom", bombs.loom_json_objects(tmp_path / "objects.loom"), "ProjectError"),
        ("h5", bombs.h5_fill_value_kernel(tmp_path / "fill.h5"), "ModelFileError"),
        ("h5", h5_huge_kernel(tmp_path / "huge.h5"), "ModelFileError"),
        ("idx", bombs.idx_gz_bomb(tmp_path / "b.idx.gz"), "DataError"),
        ("hdf5_data", bombs.hdf5_fill_value_data(tmp_path / "fill_data.h5"), "DataError"),
        ("npz", bombs.npz_bomb(tmp_path / "b.npz"), "DataError"),
        ("npz", bombs.npz_bomb(tmp_path / "small_header.npz", declared_small=True), "DataError"),
        ("image", folder / "a.png", "DataError"),
        ("image_folder", tmp_path / "images", "DataError"),
        ("image_folder_native", tmp_path / "under_the_limit", "DataError"),
    ]
    results = probe([(reader, path) for reader, path, _ in cases])
    report = []
    for (reader, path, kind), res in zip(cases, results):
        report.append(f"{path.name}: {res['outcome']} {res.get('type')} {res['peak_mb']:.0f} MB")
        assert path.stat().st_size < 10 * MB
        assert res["outcome"] == "error" and res["type"] == kind, res
        assert "\n" not in res["message"] and path.name in res["message"]
        assert res["peak_mb"] < PEAK_MB, report[-1]
    print("\n".join(report))


def test_a_large_csv_is_streamed(tmp_path):
    """20 MB of numbers: the arrays (~9 MB) and a block of lines, not a list of strings per
    cell (which took 13 bytes of memory per byte of file)."""
    r = np.random.default_rng(0)
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("a,b,c,d,label\n")
        while f.tell() < 20 * MB:
            x = r.standard_normal((20000, 4))
            f.write("\n".join(f"{a:.5f},{b:.5f},{c:.5f},{d:.5f},{'yes' if a > 0 else 'no'}"
                              for a, b, c, d in x) + "\n")
    (res,) = probe([("csv", path)])
    assert res["outcome"] == "ok", res
    assert res["peak_mb"] < 300, res
