"""Seeds, the error type and TensorFlow's settings shared by every aadlib module.

Notebook: every chapter calls :func:`set_seed` once, right after its imports; the chapters that
train models take their seeds from :func:`seeds`.
"""

import os
import random
import sys

import numpy as np

SEED = 42
"""The one seed the course uses; every random choice in aadlib defaults to it."""

SEED_OFFSET_ENV = "AAD_SEED_OFFSET"


def tensorflow_defaults():
    """Set what TensorFlow reads from the environment at its import, where the user has not: no C++
    start-up banner (oneDNN, CPU features: noise for readers), and on a GPU, memory taken as it is
    needed rather than all of it at the start (so that other processes, and a second model, fit).
    The modules that import TensorFlow call it first; it has no effect once TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")


class AadError(Exception):
    """Bad input or an impossible request, explained in one sentence for people.

    aadlib raises it instead of letting a deep traceback from inside a library
    reach the reader; the message says what was wrong and what to do.
    """


def set_seed(seed=SEED):
    """Seed Python, NumPy and, if it is already imported, TensorFlow/Keras.

    TensorFlow is seeded only when a chapter has imported it, so the chapters
    that never use it do not pay its import time (several seconds) for nothing.
    Call it again after importing TensorFlow.

    Args:
        seed (int): The seed (default :data:`SEED`).

    Returns:
        int: The seed, for printing.

    Notebook: all chapters.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules:  # seeds TensorFlow too
        sys.modules["keras"].utils.set_random_seed(seed)
    elif "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
    return seed


def seeds(n=3):
    """The seeds a chapter trains its models with, and ``aad benchmark --seeds n`` runs: 0 to n - 1.

    The environment variable ``AAD_SEED_OFFSET`` shifts them: with ``AAD_SEED_OFFSET=3``, three seeds
    are 3, 4 and 5. Run a chapter so to see how far its numbers move with the seeds
    (``benchmarks/portability.py`` does it for every chapter).

    Args:
        n (int): How many seeds.

    Returns:
        list[int]: The seeds.

    Notebook: 02_autoencoders_1d to 07_comparison.
    """
    offset = os.environ.get(SEED_OFFSET_ENV, "0")
    if not offset.lstrip("-").isdigit():
        raise AadError(f"{SEED_OFFSET_ENV} must be a whole number, not {offset!r}; unset it to train with seeds 0 to {n - 1}.")
    return list(range(int(offset), int(offset) + n))
