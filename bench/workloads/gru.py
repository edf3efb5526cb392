"""Embedding(10000, 128) → GRU(128) → Dense 1 sigmoid (the seed IMDB model with a GRU; Keras 3's
reset_after=True, as PyTorch's GRU); adam, binary crossentropy; sequences of 200 token ids,
batch 32, 3,200 sequences per epoch (the frame: bench/workloads/rnn_text.py)."""
from __future__ import annotations

from bench.workloads import rnn_text


def main_results(epochs: int, peers) -> dict:
    return rnn_text.results("GRU", "GRU", epochs, peers)


def train_for_memory() -> None:
    rnn_text.train_for_memory("GRU")
