"""Embedding(10000, 128) → GRU(128) → Dense 1 sigmoid (the seed IMDB model with a GRU; Keras 3's
reset_after=True, as PyTorch's GRU); adam, binary crossentropy; sequences of 200 token ids,
batch 32, 3,200 sequences per epoch (bench/workloads/lstm.py's data)."""
from __future__ import annotations

from bench.workloads.harness import compare, engine_rates
from bench.workloads.lstm import VOCAB, make_data

BATCH = 32

TWINS = {
    "torch": r"""
x = torch.from_numpy(d["x"].astype(np.int64)); y = torch.from_numpy(d["y"])
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10000, 128); self.rnn = nn.GRU(128, 128, batch_first=True)
        self.out = nn.Linear(128, 1)
    def forward(self, ids):
        seq, h = self.rnn(self.emb(ids))
        return self.out(h[-1]).squeeze(1)
model = Net(); lossf = nn.BCEWithLogitsLoss()
""",
    "keras": r"""
model = keras.Sequential([keras.Input((x.shape[1],), dtype="int32"), L.Embedding(10000, 128),
                          L.GRU(128), L.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
""",
}


def build_engine():
    from engine.layers import GRU, Dense, Embedding
    from engine.models import Sequential
    model = Sequential([Embedding(VOCAB, 128), GRU(128), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main_results(epochs: int, peers) -> dict:
    x, y = make_data()
    return compare(build_engine, x, y, BATCH, epochs, TWINS, peers)


def train_for_memory() -> None:
    x, y = make_data()
    engine_rates(build_engine, x, y, BATCH, 1)
