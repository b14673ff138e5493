"""Seeds and the error type shared by every aadlib module.

Notebook: every chapter calls :func:`set_seed` once, right after its imports.
"""

import os
import random
import sys

import numpy as np

SEED = 42
"""The one seed the course uses; every random choice in aadlib defaults to it."""


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
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
    return seed
