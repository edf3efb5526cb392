"""Embedding(10000, 128) → SimpleRNN(128) → Dense 1 sigmoid (the seed IMDB model with a
SimpleRNN: tanh, as PyTorch's RNN); adam, binary crossentropy; sequences of 200 token ids,
batch 32, 3,200 sequences per epoch (the frame: bench/workloads/rnn_text.py)."""
from __future__ import annotations

from bench.workloads import rnn_text


def main_results(epochs: int, peers) -> dict:
    return rnn_text.results("SimpleRNN", "RNN", epochs, peers)


def train_for_memory() -> None:
    rnn_text.train_for_memory("SimpleRNN")
