"""engine/ must never import Qt or pyqtgraph (it runs headless, in the CLI and in threads)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_every_engine_module_loads_no_qt():
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "mods = [m.name for m in pkgutil.walk_packages(engine.__path__, 'engine.')]\n"
        "for m in mods: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in "
        "('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph'))\n"
        "print(len(mods)); print(bad)\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[0]) >= 10


def test_engine_sources_do_not_mention_qt_imports():
    for path in (ROOT / "engine").rglob("*.py"):
        for line in path.read_text().splitlines():
            s = line.strip()
            if s.startswith(("import ", "from ")):
                assert not any(q in s for q in ("PySide6", "pyqtgraph", "shiboken6", "PyQt")), \
                    f"{path}: {s}"

