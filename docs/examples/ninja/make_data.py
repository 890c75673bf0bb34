"""Writes the ninja example's parameters and one batch, as the notebook initialises them."""

import numpy as np

rng = np.random.default_rng(2147483647)
vocab, block, embd, hidden, batch = 27, 3, 10, 64, 32
arrays = {
    "C": rng.normal(size=(vocab, embd)),
    "W1": rng.normal(size=(block * embd, hidden)) * (5 / 3) / (block * embd) ** 0.5,
    "b1": rng.normal(size=(hidden,)) * 0.1,
    "W2": rng.normal(size=(hidden, vocab)) * 0.1,
    "b2": rng.normal(size=(vocab,)) * 0.1,
    "bngain": rng.normal(size=(1, hidden)) * 0.1 + 1.0,
    "bnbias": rng.normal(size=(1, hidden)) * 0.1,
    "Xb": rng.integers(0, vocab, size=(batch, block)),
    "Yb": rng.integers(0, vocab, size=(batch,)),
}
np.savez("batch.npz", **arrays)
