"""A Conv1D text classifier: Embedding(10000, 128) → Conv1D 64 ×5 relu → GlobalMaxPooling1D →
Dense 1 sigmoid; adam, binary crossentropy; sequences of 200 token ids, batch 32, 3,200
sequences per epoch (the seed IMDB LSTM's data, bench/workloads/lstm.py)."""
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
        self.emb = nn.Embedding(10000, 128); self.conv = nn.Conv1d(128, 64, 5); self.out = nn.Linear(64, 1)
    def forward(self, ids):
        h = F.relu(self.conv(self.emb(ids).transpose(1, 2)))
        return self.out(h.amax(dim=2)).squeeze(1)
model = Net(); lossf = nn.BCEWithLogitsLoss()
""",
    "keras": r"""
model = keras.Sequential([keras.Input((x.shape[1],), dtype="int32"), L.Embedding(10000, 128),
    L.Conv1D(64, 5, activation="relu"), L.GlobalMaxPooling1D(), L.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
""",
}


def build_engine():
    from engine.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D
    from engine.models import Sequential
    model = Sequential([Embedding(VOCAB, 128), Conv1D(64, 5, activation="relu"),
                        GlobalMaxPooling1D(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main_results(epochs: int, peers) -> dict:
    x, y = make_data()
    return compare(build_engine, x, y, BATCH, epochs, TWINS, peers)


def train_for_memory() -> None:
    x, y = make_data()
    engine_rates(build_engine, x, y, BATCH, 1)
