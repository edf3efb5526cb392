"""Shape inference of code nodes in a child process (the app's way): answers come later, a
runaway loop — in Python or inside C — is stopped after the time limit and replaced by a fresh
child, and nothing the code prints or raises breaks the exchange."""
import threading

from engine.graph import GraphDocument
from engine.graph.code_process import CodeShapeProcess


def _answer(doc: GraphDocument, runner: CodeShapeProcess, answered: threading.Event, nid: str):
    """Shape inference once the child answered (None first: the caller never waits)."""
    doc.infer_shapes()
    for _ in range(20):
        if not doc.info[nid].pending:
            return doc.info[nid]
        assert answered.wait(180), "the child did not answer"
        answered.clear()
        doc.infer_shapes()
    raise AssertionError("still pending")


def test_code_shapes_in_a_child_process_survive_runaway_code(tmp_path):
    answered = threading.Event()
    runner = CodeShapeProcess(on_result=answered.set, time_limit=1.5)
    try:
        doc = GraphDocument()
        doc.code_runner = runner
        i = doc.add_node("InputLayer", {"shape": [5]}).id
        c = doc.add_node("CustomLayer").id
        d = doc.add_node("Dense", {"units": 3}).id
        doc.connect(i, c)
        doc.connect(c, d)
        assert doc.info[c].pending and doc.info[d].pending      # asked, not waited for
        assert any("still being worked out" in m for _, m in doc.problems())
        info = _answer(doc, runner, answered, c)
        assert info.output_shapes == [(None, 32)] and info.params == 192, info
        assert doc.info[d].output_shapes == [(None, 3)]

        doc.set_param(c, "source", "def call(self, x):\n    n = 0\n    while True:\n"
                                   "        n += 1\n")
        info = _answer(doc, runner, answered, c)
        assert "did not finish within 1.5 s" in info.error and info.error_line in (3, 4)
        assert (c, info.error) in doc.problems()

        doc.set_param(c, "source", "def call(self, x):\n    return sum(range(10**13))\n")
        info = _answer(doc, runner, answered, c)     # inside C: the parent kills the child
        assert "did not finish" in info.error

        printing = "def call(self, x):\n    print('{\"id\": 1}')\n    return x * 2\n"
        doc.set_param(c, "source", printing)
        assert _answer(doc, runner, answered, c).output_shapes == [(None, 5)]

        doc.set_param(c, "source", "def call(self, x):\n    raise SystemExit(3)\n")
        assert "stopped the process" in _answer(doc, runner, answered, c).error

        doc.set_param(c, "source", "def call(self, x):\n    return foo\n")
        info = _answer(doc, runner, answered, c)
        assert info.error_line == 2 and "NameError" in info.error
        started = runner.children_started
        assert started >= 3                          # every stopped child was replaced
        other = GraphDocument()                      # the same question from another document:
        other.code_runner = runner                   # answered from the cache, at once
        j = other.add_node("InputLayer", {"shape": [5]}).id
        k = other.add_node("CustomLayer", {"source": printing}).id
        other.connect(j, k)
        assert other.info[k].output_shapes == [(None, 5)]
        assert runner.children_started == started
    finally:
        runner.close()
