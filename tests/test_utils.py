import random

import numpy as np

import aadlib


def test_set_seed_makes_numpy_and_python_repeat():
    aadlib.set_seed(7)
    first = (np.random.rand(3), random.random())
    aadlib.set_seed(7)
    again = (np.random.rand(3), random.random())
    np.testing.assert_array_equal(first[0], again[0])
    assert first[1] == again[1]


def test_set_seed_seeds_keras_once_imported():
    import keras

    aadlib.set_seed(11)
    first = keras.random.uniform((4,)).numpy()
    aadlib.set_seed(11)
    np.testing.assert_array_equal(first, keras.random.uniform((4,)).numpy())


def test_default_seed():
    assert aadlib.set_seed() == aadlib.SEED == 42
