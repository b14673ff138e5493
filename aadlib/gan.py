"""GAN-based anomaly detection: AnoGAN and its fast variant with an encoder (f-AnoGAN).

A generator G learns, against a discriminator D, to turn random latent vectors
z into patches that look like the normal training patches. A test patch x is
then explained by the z whose G(z) is closest to it: found by gradient steps
on z with G frozen (AnoGAN, slow), or by one pass through an encoder E trained
afterwards to invert G (f-AnoGAN's "izi" encoder, fast). The anomaly score is

    A(x) = (1 - lam) * R(x) + lam * D(x),

R = ``mean |x - G(z)|`` (residual loss) and D = ``mean |f(x) - f(G(z))|``, with f the
last hidden layer of the discriminator (discrimination or feature-matching
loss); ``lam = 0.1`` as in the AnoGAN paper.

:class:`AnoGAN` has the detector interface of :mod:`aadlib.detectors`: ``fit(X)``
on flat normal patches (n_samples, height * width) or on patches streamed from disk
(:class:`aadlib.store.FeatureFiles`), ``decision_function(X)``,
``threshold_``, ``predict(X)``.

Notebook: 05_gan_detection.
"""

import time

import numpy as np
from sklearn.preprocessing import StandardScaler

from .autoencoders import train_epochs
from .detectors import Detector
from .store import FeatureFiles
from .utils import AadError, SEED, tensorflow_defaults

tensorflow_defaults()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

SEARCHES = ("gradient", "encoder")
"""How :class:`AnoGAN` finds the latent vector of a test patch."""

SCORE_CHUNK = 4096
"""Patches scored at once, which bounds the memory of scoring the tens of thousands of patches of a
full-size machine (each chunk's search holds G's and D's activations for all its patches)."""


def dcgan_generator(latent_dim=16, shape=(32, 32), filters=(16, 8)):
    """DCGAN generator: latent vector -> patch in [-1, 1].

    A dense layer makes a small image of ``filters[0]`` channels; each
    stride-2 transposed convolution (with batch normalisation and ReLU)
    doubles its sides, and a last one makes the single-channel patch with tanh.

    Args:
        latent_dim (int): Length of z.
        shape (tuple[int, int]): Patch (height, width); both divisible by ``2 ** (len(filters) + 1)``.
        filters (tuple[int]): Channels of the hidden layers, largest first.

    Returns:
        keras.Model: (batch, latent_dim) -> (batch, height, width, 1).
    """
    factor = 2 ** (len(filters) + 1)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(f"Patch sides {shape} must be divisible by {factor}.")
    z = keras.Input((latent_dim,))
    x = layers.Dense(shape[0] // factor * shape[1] // factor * filters[0])(z)
    x = layers.Reshape((shape[0] // factor, shape[1] // factor, filters[0]))(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for n in filters:
        x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2DTranspose(n, 4, strides=2, padding="same")(x)))
    outputs = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(z, outputs, name="generator")


def dcgan_discriminator(shape=(32, 32), filters=(8, 16, 32)):
    """DCGAN discriminator: patch -> (real/fake logit, feature vector f(x)).

    Stride-2 convolutions with LeakyReLU (0.2) halve the sides; the flattened
    last hidden layer is f(x), the features the discrimination loss compares.

    Args:
        shape (tuple[int, int]): Patch (height, width).
        filters (tuple[int]): Channels of the convolutions.

    Returns:
        keras.Model: (batch, height, width, 1) -> [(batch, 1) logits, (batch, n_features) features].
    """
    inputs = keras.Input((*shape, 1))
    x = inputs
    for n in filters:
        x = layers.LeakyReLU(0.2)(layers.Conv2D(n, 4, strides=2, padding="same")(x))
    feats = layers.Flatten()(x)
    return keras.Model(inputs, [layers.Dense(1)(feats), feats], name="discriminator")


def dcgan_encoder(latent_dim=16, shape=(32, 32), filters=(8, 16, 32)):
    """Encoder E for f-AnoGAN: patch -> latent vector (the discriminator's layout, tanh-bounded output).

    Returns:
        keras.Model: (batch, height, width, 1) -> (batch, latent_dim).
    """
    inputs = keras.Input((*shape, 1))
    x = inputs
    for n in filters:
        x = layers.LeakyReLU(0.2)(layers.Conv2D(n, 4, strides=2, padding="same")(x))
    return keras.Model(inputs, layers.Dense(latent_dim, activation="tanh")(layers.Flatten()(x)), name="encoder")


def _check_search(search):
    if search not in SEARCHES:
        raise AadError(f"Unknown search {search!r}; choose 'gradient' (AnoGAN) or 'encoder' (f-AnoGAN).")


class AnoGAN(Detector):
    """AnoGAN on image patches, with f-AnoGAN's encoder as the fast alternative to the latent search.

    Args:
        shape (tuple[int, int]): Patch (height, width); ``X`` rows are patches flattened row-major.
        latent_dim (int): Length of z; z is drawn uniformly from [-1, 1].
        epochs (int): Passes over the training patches for the GAN.
        batch_size (int): Patches per step.
        learning_rate (float): Adam's step size for G and D (beta_1 = 0.5, as DCGAN).
        lam (float): Weight of the discrimination loss in the score.
        search (str): "gradient" (AnoGAN) or "encoder" (f-AnoGAN); can be changed after fitting.
        search_steps (int): Gradient steps on z per test patch.
        search_rate (float): Adam's step size for the latent search.
        encoder_epochs (int): Passes to train the encoder (after the GAN, G and D frozen).
        snapshot_every (int): Keep generated samples from fixed z every this many epochs (0 = never).
        g_filters, d_filters (tuple[int]): Channels of the generator's and the discriminator's
            (and encoder's) hidden layers; small, so that training fits a CPU budget.
        random_state (int): Seeds weights, batches, z and the search.
        contamination, threshold: As :class:`aadlib.detectors.Detector` (patches are scaled to
            [-1, 1] with the training range, never standardised).

    Attributes:
        history_ (dict): Per epoch: ``d_loss`` and ``g_loss`` (GAN losses), ``d_real`` (D's mean
            probability that a training patch is real); ``e_loss`` per encoder epoch.
        snapshots_ (list[tuple[int, np.ndarray]]): (epoch, 4 generated patches) during training.
        fit_seconds_ (dict): Seconds spent on the GAN and on the encoder.

    Notebook: 05_gan_detection.
    """

    def __init__(self, shape=(32, 32), latent_dim=16, epochs=80, batch_size=32, learning_rate=2e-4, lam=0.1,
                 search="gradient", search_steps=100, search_rate=0.05, encoder_epochs=30, snapshot_every=0,
                 g_filters=(16, 8), d_filters=(8, 16, 32), random_state=SEED, contamination=0.1, threshold="percentile"):
        super().__init__(contamination, threshold, standardize=False)
        self.shape, self.latent_dim, self.epochs, self.batch_size = shape, latent_dim, epochs, batch_size
        self.learning_rate, self.lam, self.search = learning_rate, lam, search
        self.search_steps, self.search_rate, self.encoder_epochs = search_steps, search_rate, encoder_epochs
        self.snapshot_every, self.random_state = snapshot_every, random_state
        self.g_filters, self.d_filters = g_filters, d_filters

    # -- scaling: patches to [-1, 1] with the training range ------------------------------

    def _scaled(self, X):
        """Flat patches (n, height * width) -> float32 in [-1, 1] with the training range.

        Computed in float64 a block of :data:`SCORE_CHUNK` patches at a time, so that no float64
        copy of all the patches is ever held."""
        if X.shape[1] != self.shape[0] * self.shape[1]:
            raise AadError(f"Patches of shape {self.shape} have {self.shape[0] * self.shape[1]} values, not {X.shape[1]}.")
        scaled = np.empty(X.shape, np.float32)
        for first in range(0, len(X), SCORE_CHUNK):
            part = np.asarray(X[first : first + SCORE_CHUNK], dtype=float)
            scaled[first : first + SCORE_CHUNK] = np.clip(2 * (part - self.low_) / (self.high_ - self.low_) - 1, -1, 1)
        return scaled

    def _images(self, X):
        """Flat patches -> a float32 tensor of images (n, height, width, 1) in [-1, 1]."""
        return tf.constant(self._scaled(X).reshape(-1, *self.shape, 1))

    # -- training ---------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Learn the normal patches: an array (n_patches, height * width), or a set too large for memory
        (:class:`aadlib.store.FeatureFiles` whose rows are patches), streamed from disk through
        ``tf.data``; y is ignored; returns self."""
        _check_search(self.search)
        if not isinstance(X, FeatureFiles):
            return super().fit(X)
        ranges = np.array([(rows.min(), rows.max()) for rows in X.chunks()])
        self.low_, self.high_ = float(ranges[:, 0].min()), float(ranges[:, 1].max())
        # the identity scaler fit(array) has too (the GAN scales patches itself); scoring checks the patch size with it
        self.scaler_ = StandardScaler(with_mean=False, with_std=False).fit(np.zeros((1, X.n_features)))
        self.model_ = self._train(X)
        self._set_threshold(self.decision_function(X))
        return self

    def _fit(self, X):
        self.low_, self.high_ = float(X.min()), float(X.max())
        return self._train(self._images(X))

    def _train(self, data):
        """Train the GAN, then the encoder, on ``data``: a tensor of all the images, or
        :class:`aadlib.store.FeatureFiles` of patches. Returns the generator."""
        keras.utils.set_random_seed(self.random_state)
        self.generator_ = dcgan_generator(self.latent_dim, self.shape, self.g_filters)
        self.discriminator_ = dcgan_discriminator(self.shape, self.d_filters)
        started = time.perf_counter()
        self._train_gan(data)
        self.fit_seconds_ = {"gan": time.perf_counter() - started}
        started = time.perf_counter()
        self.encoder_ = dcgan_encoder(self.latent_dim, self.shape, self.d_filters)
        self._train_encoder(data)
        self.fit_seconds_["encoder"] = time.perf_counter() - started
        return self.generator_

    def _train_gan(self, data):
        g, d = self.generator_, self.discriminator_
        g_opt = keras.optimizers.Adam(self.learning_rate, beta_1=0.5)
        d_opt = keras.optimizers.Adam(self.learning_rate, beta_1=0.5)
        g_opt.build(g.trainable_variables)  # now, not in the first traced step, which tf.function would then trace twice
        d_opt.build(d.trainable_variables)
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        seed = tf.random.Generator.from_seed(self.random_state)

        def step(real):
            z = seed.uniform((tf.shape(real)[0], self.latent_dim), -1.0, 1.0)
            with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
                fake = g(z, training=True)
                real_logit, _ = d(real, training=True)
                fake_logit, _ = d(fake, training=True)
                d_loss = bce(tf.ones_like(real_logit), real_logit) + bce(tf.zeros_like(fake_logit), fake_logit)
                g_loss = bce(tf.ones_like(fake_logit), fake_logit)
            d_opt.apply_gradients(zip(d_tape.gradient(d_loss, d.trainable_variables), d.trainable_variables))
            g_opt.apply_gradients(zip(g_tape.gradient(g_loss, g.trainable_variables), g.trainable_variables))
            rows = tf.cast(tf.shape(real)[0], tf.float32)
            return d_loss * rows, g_loss * rows, tf.reduce_sum(tf.sigmoid(real_logit))  # summed over the batch's rows

        fixed_z = np.random.default_rng(self.random_state).uniform(-1, 1, (4, self.latent_dim)).astype(np.float32)
        self.history_ = {"d_loss": [], "g_loss": [], "d_real": []}
        self.snapshots_ = []
        for epoch, losses in enumerate(self._epochs(step, data, self.epochs, self.random_state, n_sums=3), start=1):
            for key, value in zip(self.history_, losses):
                self.history_[key].append(float(value))
            if self.snapshot_every and (epoch % self.snapshot_every == 0 or epoch == 1):
                self.snapshots_.append((epoch, keras.ops.convert_to_numpy(g(fixed_z, training=False))[..., 0]))

    def _train_encoder(self, data):
        g, d, e = self.generator_, self.discriminator_, self.encoder_
        opt = keras.optimizers.Adam(1e-3)
        opt.build(e.trainable_variables)

        def step(real):
            with tf.GradientTape() as tape:
                rebuilt = g(e(real, training=True), training=False)
                _, f_real = d(real, training=False)
                _, f_rebuilt = d(rebuilt, training=False)
                loss = tf.reduce_mean(tf.square(real - rebuilt)) + tf.reduce_mean(tf.square(f_real - f_rebuilt))
            opt.apply_gradients(zip(tape.gradient(loss, e.trainable_variables), e.trainable_variables))
            return (loss * tf.cast(tf.shape(real)[0], tf.float32),)

        self.history_["e_loss"] = [float(loss) for (loss,) in self._epochs(step, data, self.encoder_epochs, self.random_state + 1, n_sums=1)]

    def _epochs(self, step, data, epochs, seed, n_sums):
        """Run ``step`` on every batch for ``epochs`` passes; yield each pass's ``n_sums`` sums of step, per row.

        ``data``: a tensor of images (n, height, width, 1): :func:`aadlib.autoencoders.train_epochs` with
        ``n // batch_size`` near-equal batches of a permutation drawn with ``seed`` every pass. Or
        :class:`aadlib.store.FeatureFiles` of patches: batches of ``batch_size`` from its ``tf.data``
        pipeline, shuffled with ``seed``, one graph call per batch.
        """
        if isinstance(data, FeatureFiles):
            batches = data.dataset(self._scaled, self.batch_size, seed)
            batch_step = tf.function(lambda rows: step(tf.reshape(rows, (-1, *self.shape, 1))),
                                     input_signature=[tf.TensorSpec((None, data.n_features), tf.float32)])
            for _ in range(epochs):
                yield np.sum([[float(value) for value in batch_step(rows)] for rows in batches], axis=0) / len(data)
            return
        yield from train_epochs(step, [data], self.batch_size, epochs, seed, n_sums, even_batches=True)

    # -- scoring ----------------------------------------------------------------------------

    def _losses(self, images, z):
        rebuilt = self.generator_(z, training=False)
        _, f_real = self.discriminator_(images, training=False)
        _, f_rebuilt = self.discriminator_(rebuilt, training=False)
        residual = tf.reduce_mean(tf.abs(images - rebuilt), axis=[1, 2, 3])
        discrimination = tf.reduce_mean(tf.abs(f_real - f_rebuilt), axis=1)
        return residual, discrimination, rebuilt

    def latent_search(self, X, steps=None, start=None):
        """AnoGAN's search: gradient steps on z (G and D frozen) towards the z whose G(z) explains X.

        All patches are searched at once; each has its own z and its own loss,
        so the result is the same as searching them one by one.

        Args:
            X (np.ndarray): (n_samples, height * width) patches, in the units of the training data.
            steps (int | None): Gradient steps (default ``search_steps``).
            start (np.ndarray | None): (n_samples, latent_dim) starting points, e.g.
                :meth:`encode`'s; default random, uniform in [-1, 1] (seeded).

        Returns:
            tuple[np.ndarray, np.ndarray]: z (n_samples, latent_dim), and the score
            of every patch after each step (steps, n_samples), to watch it converge.
        """
        images = self._images(np.asarray(X, dtype=float))
        z = tf.Variable(np.asarray(self._start(len(images)) if start is None else start, dtype=np.float32))
        opt = keras.optimizers.Adam(self.search_rate)
        opt.build([z])

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                residual, discrimination, _ = self._losses(images, z)
                scores = (1 - self.lam) * residual + self.lam * discrimination
                total = tf.reduce_sum(scores)  # inside the tape: each z gets the gradient of its own score
            opt.apply_gradients([(tape.gradient(total, z), z)])
            return scores

        trace = [step().numpy() for _ in range(steps or self.search_steps)]
        return z.numpy(), np.array(trace)

    def _start(self, n):
        """The search's seeded random starting points: (n, latent_dim), uniform in [-1, 1]."""
        return np.random.default_rng(self.random_state).uniform(-1, 1, (n, self.latent_dim))

    def encode(self, X):
        """f-AnoGAN: z = E(x) in one pass of the encoder; (n_samples, latent_dim)."""
        return keras.ops.convert_to_numpy(self.encoder_(self._images(np.asarray(X, dtype=float)), training=False))

    def score_parts(self, X, search=None, rebuilt=True):
        """Residual and discrimination loss of every patch, and the generated patch that explains it.

        Args:
            X (np.ndarray): (n_samples, height * width) patches.
            search (str | None): "gradient" or "encoder" (default: the detector's ``search``).
            rebuilt (bool): Also return the generated patches (as large as X: leave them out when
                scoring many patches).

        Returns:
            dict: ``residual`` and ``discrimination`` (n_samples,), ``score`` =
            (1 - lam) * residual + lam * discrimination, ``rebuilt`` (n_samples, height * width)
            in the units of X.
        """
        search = search or self.search
        _check_search(search)
        X = np.asarray(X, dtype=float)
        starts = self._start(len(X))  # drawn for all patches at once: chunks search as one call would
        chunks = []
        for first in range(0, len(X), SCORE_CHUNK):
            part = X[first : first + SCORE_CHUNK]
            z = self.latent_search(part, start=starts[first : first + SCORE_CHUNK])[0] if search == "gradient" else self.encode(part)
            chunks.append([t.numpy() for t in self._losses(self._images(part), tf.constant(z))[: 3 if rebuilt else 2]])
        residual, discrimination, *generated = (np.concatenate(parts) for parts in zip(*chunks))
        parts = {"residual": residual, "discrimination": discrimination, "score": (1 - self.lam) * residual + self.lam * discrimination}
        return {**parts, "rebuilt": self._units(generated[0]).reshape(len(X), -1)} if rebuilt else parts

    def _score(self, X):
        return self.score_parts(X, rebuilt=False)["score"]

    def generate(self, n, seed=0):
        """n patches (n, height, width) from random z, in the units of the training data."""
        z = np.random.default_rng(seed).uniform(-1, 1, (n, self.latent_dim)).astype(np.float32)
        return self._units(keras.ops.convert_to_numpy(self.generator_(z, training=False))[..., 0])

    def _units(self, images):
        """Generated images in [-1, 1] back in the units of the training data."""
        return (images + 1) / 2 * (self.high_ - self.low_) + self.low_
