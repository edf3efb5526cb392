"""The frame of the one-layer recurrent text workloads (gru.py, simple_rnn.py): Embedding(10000,
128) → <recurrent layer>(128) → Dense 1 sigmoid, the seed IMDB model with another recurrent layer;
adam, binary crossentropy; sequences of 200 token ids, batch 32, 3,200 sequences per epoch
(bench/workloads/lstm.py's data). Not a workload itself (no ``main_results``)."""
from __future__ import annotations

from bench.workloads.harness import compare, engine_rates
from bench.workloads.lstm import VOCAB, make_data

BATCH = 32

TORCH = r"""
x = torch.from_numpy(d["x"].astype(np.int64)); y = torch.from_numpy(d["y"])
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10000, 128); self.rnn = nn.{torch_rnn}(128, 128, batch_first=True)
        self.out = nn.Linear(128, 1)
    def forward(self, ids):
        seq, h = self.rnn(self.emb(ids))
        return self.out(h[-1]).squeeze(1)
model = Net(); lossf = nn.BCEWithLogitsLoss()
"""

KERAS = r"""
model = keras.Sequential([keras.Input((x.shape[1],), dtype="int32"), L.Embedding(10000, 128),
                          L.{layer}(128), L.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
"""


def twins(layer: str, torch_rnn: str) -> dict:
    """The PyTorch and Keras snippets of the model with Keras layer ``layer`` (``torch_rnn``: the
    torch.nn class of the same cell)."""
    return {"torch": TORCH.replace("{torch_rnn}", torch_rnn),
            "keras": KERAS.replace("{layer}", layer)}


def build_engine(layer: str):
    import engine.layers as L
    from engine.models import Sequential
    model = Sequential([L.Embedding(VOCAB, 128), getattr(L, layer)(128),
                        L.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def results(layer: str, torch_rnn: str, epochs: int, peers) -> dict:
    x, y = make_data()
    return compare(lambda: build_engine(layer), x, y, BATCH, epochs, twins(layer, torch_rnn),
                   peers)


def train_for_memory(layer: str) -> None:
    x, y = make_data()
    engine_rates(lambda: build_engine(layer), x, y, BATCH, 1)
