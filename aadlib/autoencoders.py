"""Autoencoders (Keras 3) as anomaly detectors: model builders and one detector that trains and scores them.

An autoencoder is trained to copy its input through a narrow **bottleneck**.
Trained on normal data only, it learns to reproduce what normal data have in
common; the reconstruction error of a new input (mean squared error over all
its values) is its anomaly score.

:class:`Autoencoder` puts any builder behind the detector interface of
:mod:`aadlib.detectors`: ``fit(X)`` on normal vectors (n_samples, n_features),
``decision_function(X)`` = reconstruction error per sample (higher = more
anomalous), ``threshold_``, ``predict(X)``.

Notebook: 02_autoencoders_1d.
"""

import os

import numpy as np

from .detectors import Detector
from .utils import SEED

# TensorFlow's C++ start-up banner (oneDNN, CPU features) is noise for readers; silence it before the import.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
from keras import layers  # noqa: E402


def dense_autoencoder(input_dim, hidden=128, n_hidden=4, bottleneck=8):
    """The DCASE 2020 Task 2 baseline: dense layers, each followed by batch normalisation and ReLU.

    With the defaults and ``input_dim=640`` it is 640 -> 128 x 4 -> 8 -> 128 x 4 -> 640:
    the decoder mirrors the encoder, and the 8 bottleneck units are all the
    decoder gets to rebuild 640 numbers from.

    Args:
        input_dim (int): Length of the input vectors.
        hidden (int): Units of each hidden layer.
        n_hidden (int): Hidden layers on each side of the bottleneck.
        bottleneck (int): Units of the bottleneck.

    Returns:
        keras.Model: (batch, input_dim) -> (batch, input_dim), linear output.
    """
    inputs = keras.Input((input_dim,))
    x = inputs
    for units in [hidden] * n_hidden + [bottleneck] + [hidden] * n_hidden:
        x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(units)(x)))
    return keras.Model(inputs, layers.Dense(input_dim)(x), name="dense_autoencoder")


def conv1d_autoencoder(input_dim, channels=1, filters=(16, 32), kernel_size=5, bottleneck=8):
    """A 1D convolutional autoencoder with a dense bottleneck, for vectors that are sequences.

    The flat input (length ``input_dim``) is read as ``channels`` consecutive
    blocks of ``input_dim // channels`` steps, the layout
    :func:`aadlib.features.time_summary` gives (128 band means, then 128 band
    deviations = 2 channels over 128 steps). Each encoder block halves the length with a stride-2 convolution;
    a dense layer squeezes the result into ``bottleneck`` numbers; the decoder
    mirrors the encoder with stride-2 transposed convolutions. The dense
    bottleneck matters: a purely convolutional code is a map as long as the
    input, and can copy any local pattern through.

    Args:
        input_dim (int): Flat input length; ``input_dim // channels`` must be
            divisible by ``2 ** len(filters)`` (pad or crop the input first).
        channels (int): Values per step.
        filters (tuple[int]): Filters of the encoder blocks (the decoder uses them reversed).
        kernel_size (int): Convolution width in steps.
        bottleneck (int): Size of the code.

    Returns:
        keras.Model: (batch, input_dim) -> (batch, input_dim).
    """
    steps, factor = input_dim // channels, 2 ** len(filters)
    if steps * channels != input_dim or steps % factor:
        raise ValueError(f"input_dim {input_dim} must be channels ({channels}) x a multiple of {factor}; pad or crop the input.")
    inputs = keras.Input((input_dim,))
    x = layers.Permute((2, 1))(layers.Reshape((channels, steps))(inputs))
    for n in filters:
        x = layers.Conv1D(n, kernel_size, strides=2, padding="same", activation="relu")(x)
    coded_shape = x.shape[1:]
    x = layers.Dense(bottleneck, activation="relu")(layers.Flatten()(x))
    x = layers.Reshape(coded_shape)(layers.Dense(int(np.prod(coded_shape)), activation="relu")(x))
    for n in reversed(filters[:-1]):
        x = layers.Conv1DTranspose(n, kernel_size, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv1DTranspose(channels, kernel_size, strides=2, padding="same")(x)
    return keras.Model(inputs, layers.Flatten()(layers.Permute((2, 1))(x)), name="conv1d_autoencoder")


def reconstruct(model, X, batch_size=4096):
    """The model's output for X, computed in eager batches (no tf.function retracing per model)."""
    return np.concatenate([keras.ops.convert_to_numpy(model(X[i : i + batch_size], training=False)) for i in range(0, len(X), batch_size)])


class Autoencoder(Detector):
    """Any autoencoder builder as a detector; score = mean squared reconstruction error per sample.

    Args:
        build (callable): ``build(input_dim)`` returns an uncompiled keras.Model
            mapping (batch, input_dim) to itself, e.g. :func:`dense_autoencoder`.
        epochs (int): Passes over the training data.
        batch_size (int): Samples per gradient step.
        learning_rate (float): Adam's step size.
        random_state (int): Seeds weights and shuffling (through ``keras.utils.set_random_seed``).
        **kwargs: ``contamination``, ``threshold``, ``standardize`` of :class:`aadlib.detectors.Detector`.

    Attributes:
        model_ (keras.Model): The trained network.
        history_ (dict): Training loss per epoch (``history_["loss"]``).
    """

    def __init__(self, build=dense_autoencoder, epochs=100, batch_size=512, learning_rate=1e-3, random_state=SEED, **kwargs):
        super().__init__(**kwargs)
        self.build = build
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _fit(self, X):
        keras.utils.set_random_seed(self.random_state)
        model = self.build(X.shape[1])
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
        self.history_ = model.fit(X, X, epochs=self.epochs, batch_size=self.batch_size, shuffle=True, verbose=0).history
        return model

    def _score(self, X):
        return np.mean((X - reconstruct(self.model_, X.astype(np.float32))) ** 2, axis=1)

    def residuals(self, X):
        """Input minus reconstruction (n_samples, n_features), in the detector's standardised units."""
        scaled = self.scaler_.transform(self._check(X)).astype(np.float32)
        return scaled - reconstruct(self.model_, scaled)
