"""Autoencoders (Keras 3) as anomaly detectors: model builders and one detector that trains and scores them.

An autoencoder is trained to copy its input through a narrow **bottleneck**.
Trained on normal data only, it learns to reproduce what normal data have in
common; the reconstruction error of a new input (mean squared error over all
its values) is its anomaly score.

:class:`Autoencoder` puts any builder behind the detector interface of
:mod:`aadlib.detectors`: ``fit(X)`` on normal vectors (n_samples, n_features),
``decision_function(X)`` = reconstruction error per sample (higher = more
anomalous), ``threshold_``, ``predict(X)``.

Notebook: 02_autoencoders_1d, 03_autoencoders_2d, 04_lstm_autoencoder.
"""


import numpy as np

from .detectors import Detector, Mahalanobis, NotFittedError, check_domains
from .store import FeatureFiles
from .utils import SEED, tensorflow_defaults

tensorflow_defaults()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
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
    deviations = 2 channels over 128 steps). Each encoder block halves the
    length with a stride-2 convolution; a dense layer squeezes the result into
    ``bottleneck`` numbers; the decoder
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


def interpolation_network(input_dim, n_frames=5, hidden=(64, 32, 16)):
    """IDNN's network (Suefusa et al., ICASSP 2020): a stack of frames in, its centre frame out,
    predicted from the other frames alone.

    The input is a :func:`aadlib.features.frame_stack` vector (``n_frames`` frames of
    ``input_dim // n_frames`` values, one after the other). The network drops the centre frame,
    passes the ``n_frames - 1`` others through dense layers (ReLU) of ``hidden`` units, then back
    up through the same sizes in reverse, and predicts the centre frame with a linear layer. An
    autoencoder must rebuild the edge frames of a stack too, which depend on what came before and
    after the stack; the centre frame has its neighbours on both sides, so its prediction error is
    less noisy, and it is large exactly where a frame does not follow from its surroundings.

    Args:
        input_dim (int): Length of a stack, ``n_frames`` x the values of one frame.
        n_frames (int): Frames per stack, odd (5, as the DCASE 2020 baseline stacks them).
        hidden (tuple[int]): Units of the dense layers on the way down; the way up mirrors them.

    Returns:
        keras.Model: (batch, input_dim) -> (batch, input_dim // n_frames), the centre frame.

    Notebook: 09_auxiliary_classification.
    """
    frame = input_dim // n_frames
    if n_frames % 2 == 0 or frame * n_frames != input_dim:
        raise ValueError(f"input_dim {input_dim} must hold an odd number of frames (n_frames={n_frames}) of equal length.")
    inputs = keras.Input((input_dim,))
    centre = n_frames // 2
    x = layers.Concatenate()([inputs[:, : centre * frame], inputs[:, (centre + 1) * frame :]])
    for units in (*hidden, *hidden[-2::-1]):
        x = layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(frame)(x), name="interpolation_network")


SCORE_BATCH = 4096
"""Rows the networks reconstruct at once."""

SCORE_VALUES = 2**24
"""At most this many values (64 MB of float32) are scored at once, whatever the rows' length."""


def reconstruct(model, X, batch_size=SCORE_BATCH):
    """The model's output for X, computed in eager batches (no tf.function retracing per model)."""
    return np.concatenate([keras.ops.convert_to_numpy(model(X[i : i + batch_size], training=False)) for i in range(0, len(X), batch_size)])


def train_epochs(step, arrays, batch_size, epochs, random_state, n_sums=1, even_batches=False):
    """Run ``step`` over shuffled batches of in-memory arrays, one graph call per epoch.

    Keras's ``fit`` spends more time per epoch setting up its input pipeline than the course's small
    networks need to learn from 20 clips; a whole epoch as one ``tf.function`` call does not.

    Args:
        step (callable): Takes one batch of each array (tensors, rows in the same order) and returns a
            tuple of ``n_sums`` scalar tensors, each summed over the batch's rows (e.g. loss times batch size).
        arrays (list[np.ndarray]): Arrays with the same number of rows (n_rows, ...), cast to float32.
        batch_size (int): Rows per batch; the last batch of an epoch may be smaller.
        epochs (int): Passes over the data.
        random_state (int): Seed of the row order, drawn anew every epoch.
        n_sums (int): How many sums ``step`` returns.
        even_batches (bool): Split each epoch into ``n_rows // batch_size`` batches of near-equal size
            instead, with no small last batch (whose batch statistics would be noisy: the GAN's networks
            normalise by batch).

    Yields:
        tuple[float, ...]: Per epoch, each of ``step``'s sums divided by n_rows (the mean per row).

    Notebook: 02_autoencoders_1d, 05_gan_detection, 09_auxiliary_classification (through Autoencoder, AnoGAN and AuxClassifier).
    """
    tensors, n_rows = [tf.constant(np.asarray(a, dtype=np.float32)) for a in arrays], len(arrays[0])
    if even_batches:
        sizes = [len(part) for part in np.array_split(np.arange(n_rows), max(1, n_rows // batch_size))]
    else:
        sizes = [min(batch_size, n_rows - start) for start in range(0, n_rows, batch_size)]
    bounds = tf.constant(np.cumsum([0, *sizes]))

    @tf.function
    def epoch(shuffled):
        totals = (0.0,) * n_sums
        for i in tf.range(len(sizes)):
            values = step(*[tf.gather(x, shuffled[bounds[i] : bounds[i + 1]]) for x in tensors])
            totals = tuple(total + value for total, value in zip(totals, values))
        return totals

    order = np.random.default_rng(random_state)
    for _ in range(epochs):
        yield tuple(float(total) / n_rows for total in epoch(tf.constant(order.permutation(n_rows))))


class Autoencoder(Detector):
    """Any autoencoder builder as a detector; score = mean squared reconstruction error per sample.

    Args:
        build (callable): ``build(input_dim)`` returns an uncompiled keras.Model
            mapping (batch, input_dim) to itself, e.g. :func:`dense_autoencoder`.
        epochs (int): Passes over the training data.
        batch_size (int): Samples per gradient step.
        learning_rate (float): Adam's step size.
        loss (str | callable): Keras loss; "mse" (default), or e.g. :func:`ssim_loss`.
        random_state (int): Seeds the initial weights (``keras.utils.set_random_seed``) and the order of the batches.
        contamination, threshold, standardize: As :class:`aadlib.detectors.Detector`.

    Attributes:
        model_ (keras.Model): The trained network.
        history_ (dict): Training loss per epoch (``history_["loss"]``).
    """

    def __init__(self, build=dense_autoencoder, epochs=100, batch_size=512, learning_rate=1e-3, loss="mse", random_state=SEED,
                 contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(contamination, threshold, standardize)
        self.build = build
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, X, y=None):
        """Learn the normal data: an array (n_samples, n_features), or a set too large for memory
        (:class:`aadlib.store.FeatureFiles`), streamed from disk through ``tf.data``; y is ignored; returns self."""
        if not isinstance(X, FeatureFiles):
            return super().fit(X)
        self.scaler_ = X.scaler(self.standardize)
        self.model_ = self._fit(X)
        self._set_threshold(self.decision_function(X))
        return self

    def _fit(self, X):
        return self._train(X)

    def _train(self, data):
        """Build the network and train it with Adam on ``data``: an array (n_rows, n_features) of
        standardised rows, shuffled every epoch with ``random_state``, or
        :class:`aadlib.store.FeatureFiles`, streamed through its ``tf.data`` pipeline and
        standardised batch by batch. Returns the model; ``history_["loss"]`` is the mean loss per epoch."""
        keras.utils.set_random_seed(self.random_state)
        n_rows, n_features = data.shape
        model = self._network(n_features)
        optimizer = keras.optimizers.Adam(self.learning_rate)
        optimizer.build(model.trainable_variables)  # now, not in the first traced step, which tf.function would then trace twice
        loss = keras.losses.get(self.loss)

        def step(x):
            with tf.GradientTape() as tape:
                value = tf.reduce_mean(loss(self._target(x), model(x, training=True)))
            optimizer.apply(tape.gradient(value, model.trainable_variables), model.trainable_variables)
            return value * tf.cast(tf.shape(x)[0], tf.float32)  # summed over the batch's rows

        if isinstance(data, np.ndarray):
            losses = (loss for (loss,) in train_epochs(lambda x: (step(x),), [data], self.batch_size, self.epochs, self.random_state))
        else:
            batches = data.dataset(self.scaler_.transform, self.batch_size, self.random_state)  # made after seeding: tf.data's shuffles use the global seed too
            graph_step = tf.function(step, input_signature=[tf.TensorSpec((None, n_features), tf.float32)])
            losses = (float(sum(graph_step(x) for x in batches)) / n_rows for _ in range(self.epochs))
        self.history_ = {"loss": list(losses)}
        return model

    def _score(self, X):
        # A block of rows at a time: the reconstruction and the float64 differences of a whole large set would be
        # several times its size. A block is at most SCORE_BATCH rows, as reconstruct's batches, so the scores
        # of small sets are those of one call.
        block = min(SCORE_BATCH, max(1, SCORE_VALUES // X.shape[1]))
        return np.concatenate([np.mean((self._target(X[i : i + block]) - reconstruct(self.model_, X[i : i + block].astype(np.float32))) ** 2, axis=1)
                               for i in range(0, len(X), block)])

    def _network(self, n_features):
        """The untrained network for rows of ``n_features`` values."""
        return self.build(n_features)

    def _target(self, x):
        """What the network learns to output for rows x (the rows themselves: an autoencoder)."""
        return x

    def reconstruction(self, X):
        """What the network should output (the input, standardised if ``standardize``) and its output.

        Returns:
            tuple[np.ndarray, np.ndarray]: both (n_samples, n_features) float32 (for
            :class:`Interpolator`: (n_samples, values of one frame)).
        """
        scaled = self.scaler_.transform(self._check(X)).astype(np.float32)
        return self._target(scaled), reconstruct(self.model_, scaled)

    def residuals(self, X):
        """Target minus output (n_samples, n_features), in the detector's standardised units."""
        scaled, rebuilt = self.reconstruction(X)
        return scaled - rebuilt


class Interpolator(Autoencoder):
    """IDNN (Suefusa et al., ICASSP 2020) as a detector: trained on frame stacks of normal clips to
    predict each stack's centre frame from the frames around it; score = mean squared error of
    that prediction (the interpolation error), per stack.

    Takes the rows :func:`aadlib.features.frame_stack` makes, as :class:`Autoencoder` with
    :func:`dense_autoencoder` does in the DCASE 2020 baseline; a clip's score is a summary of its
    stacks' scores (:func:`aadlib.detectors.score_clips`).

    Args:
        n_frames (int): Frames per stack (odd).
        build (callable): ``build(input_dim, n_frames)`` returns the network, (batch, input_dim) ->
            (batch, input_dim // n_frames); default :func:`interpolation_network`.
        epochs, batch_size, learning_rate, loss, random_state, contamination, threshold, standardize:
            As :class:`Autoencoder`.

    Notebook: 09_auxiliary_classification.
    """

    def __init__(self, n_frames=5, build=interpolation_network, epochs=100, batch_size=512, learning_rate=1e-3, loss="mse",
                 random_state=SEED, contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(build, epochs, batch_size, learning_rate, loss, random_state, contamination, threshold, standardize)
        self.n_frames = n_frames

    def _network(self, n_features):
        return self.build(n_features, self.n_frames)

    def _target(self, x):
        frame = x.shape[1] // self.n_frames
        centre = self.n_frames // 2
        return x[:, centre * frame : (centre + 1) * frame]


class MahalanobisAutoencoder(Autoencoder):
    """The DCASE 2023 and 2024 baselines' autoencoder: trained as :class:`Autoencoder` (squared error),
    scored by the Mahalanobis distance of its residual.

    After training, the residuals r = x - x_hat of the training rows (in the detector's standardised
    units) get a mean mu_r and a covariance Sigma_r (:class:`aadlib.detectors.Mahalanobis`, Ledoit-Wolf
    shrinkage), and a row's score is (r - mu_r)^T Sigma_r^-1 (r - mu_r) ("simple" Mahalanobis). Given
    the domain of each training row (``fit(X, domains=labels)``, "source" and "target" in DCASE 2022
    and later), one mean and covariance of the residuals per domain, and a row's score is its smallest
    distance ("selective" Mahalanobis, the baselines' Mahalanobis mode); :class:`aadlib.methods.PerPatch`
    then scores a clip by the smaller of its domains' mean distances over the clip's rows, as the
    baselines do. Two details differ from the baselines' code, which takes the distance of the residual
    itself, not of its difference from the mean residual, and inverts the covariance without shrinkage.

    Args:
        shrinkage (bool): Ledoit-Wolf shrinkage of the residuals' covariance; False = the sample covariance.
        build, epochs, batch_size, learning_rate, loss, random_state, contamination, threshold, standardize:
            As :class:`Autoencoder`; with the same ones it trains the same network.

    Attributes:
        residual_detector_ (aadlib.detectors.Mahalanobis): Fitted on the training residuals.
        domains_ (list): Its domains (``[None]`` without domains).

    Notebook: 09_auxiliary_classification (section 5 builds it by hand); behind ``aad benchmark``'s
    ``dcase2023_ae`` and ``dcase2023_ae_selective``.
    """

    def __init__(self, build=dense_autoencoder, epochs=100, batch_size=512, learning_rate=1e-3, loss="mse", shrinkage=True,
                 random_state=SEED, contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(build, epochs, batch_size, learning_rate, loss, random_state, contamination, threshold, standardize)
        self.shrinkage = shrinkage

    def fit(self, X, y=None, domains=None):
        """Train the network on X, an array (n_samples, n_features) or :class:`aadlib.store.FeatureFiles`, then fit the
        Mahalanobis distance of its residuals, one Gaussian per domain if ``domains`` (n_samples,) labels are given
        (each domain with at least 2 rows); y is ignored; returns self."""
        self._row_domains = check_domains(domains, len(X))  # before the network trains, not after
        try:
            return super().fit(X)
        finally:
            del self._row_domains

    def _fit(self, data):
        model = self._train(data)
        chunks = [data] if isinstance(data, np.ndarray) else (self.scaler_.transform(rows) for rows in data.chunks())
        residuals = np.concatenate([self._residuals(model, rows) for rows in chunks])
        self.residual_detector_ = Mahalanobis(shrinkage=self.shrinkage, standardize=False).fit(residuals, domains=self._row_domains)
        self.domains_ = self.residual_detector_.domains_
        return model

    def _residuals(self, model, X):
        """Target minus output (n_rows, n_values) float32 of standardised rows X, a block of rows at a time."""
        block = min(SCORE_BATCH, max(1, SCORE_VALUES // X.shape[1]))
        return np.concatenate([self._target(X[i : i + block]).astype(np.float32) - reconstruct(model, X[i : i + block].astype(np.float32))
                               for i in range(0, len(X), block)])

    def _train_scores(self, Xs):
        return self.residual_detector_.decision_scores_

    def domain_scores(self, X):
        """The squared Mahalanobis distance of each row's residual to each domain's residuals.

        Args:
            X (np.ndarray | aadlib.store.FeatureFiles): (n_samples, n_features).

        Returns:
            np.ndarray: (n_samples, n_domains), the columns in the order of ``domains_``; their minimum
            over the columns is ``decision_function(X)``.
        """
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("This MahalanobisAutoencoder is not fitted yet; call fit(X_train) first.")
        if isinstance(X, FeatureFiles):
            return np.concatenate([self.domain_scores(rows) for rows in X.chunks()])
        return self._domain_scores(self.scaler_.transform(self._check(X)))

    def _domain_scores(self, X):
        return self.residual_detector_.domain_scores(self._residuals(self.model_, X))

    def _score(self, X):
        return self._domain_scores(X).min(axis=1)


# ---------------------------------------------------------------------------
# 2D convolutional autoencoders on spectrogram images (chapter 03)
# ---------------------------------------------------------------------------


def small_cae(shape):
    """The reference notebook's small convolutional autoencoder.

    Conv 8 -> MaxPool 2 -> Conv 16 -> Conv 8 -> UpSampling 2 -> Conv 1 with a
    sigmoid, all 3 x 3 with "same" padding, so inputs must lie in [0, 1]. The
    pooling halves each side and the upsampling doubles it, so both sides of
    the image must be even: an odd frame count (431) comes back as 432 and the
    model fails. Pad or crop first (:func:`aadlib.features.fit_frames`).

    Args:
        shape (tuple): (height, width, channels), height and width even.

    Returns:
        keras.Model: images -> images of the same shape.
    """
    if shape[0] % 2 or shape[1] % 2:
        raise ValueError(f"small_cae needs even image sides, got {shape[:2]}; pad or crop the frames with aadlib.features.fit_frames.")
    inputs = keras.Input(shape)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(inputs)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = layers.UpSampling2D(2)(x)
    outputs = layers.Conv2D(shape[2], 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs, name="small_cae")


def strided_cae(shape=(64, 64, 1)):
    """The DCASE 2020 student design: four stride-2 convolutions and four mirrored transposed ones.

    Conv2D 32 / 64 / 64 / 128 (3 x 3, stride 2, same, ReLU, each followed by
    batch normalisation) take a 64 x 64 image to 4 x 4 x 128; Conv2DTranspose
    64 / 64 / 32 / 1 bring it back. 259,971 trainable parameters at 64 x 64 x 1.
    The code is a 4 x 4 map, not a vector: there is no dense bottleneck.

    Args:
        shape (tuple): (height, width, channels), sides divisible by 16.
    """
    if shape[0] % 16 or shape[1] % 16:
        raise ValueError(f"strided_cae needs image sides divisible by 16, got {shape[:2]}; pad or crop first.")
    inputs = keras.Input(shape)
    x = inputs
    for filters in (32, 64, 64, 128):
        x = layers.BatchNormalization()(layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x))
    for filters in (64, 64, 32, shape[2]):
        x = layers.BatchNormalization()(layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(x))
    return keras.Model(inputs, x, name="strided_cae")


def _inception(x, filters):
    """Parallel 1x1, 3x3 and 5x5 convolutions and a pooled branch, concatenated (GoogLeNet's block)."""
    branches = [
        layers.Conv2D(filters, 1, padding="same", activation="relu")(x),
        layers.Conv2D(filters, 3, padding="same", activation="relu")(layers.Conv2D(filters, 1, padding="same", activation="relu")(x)),
        layers.Conv2D(filters, 5, padding="same", activation="relu")(layers.Conv2D(filters, 1, padding="same", activation="relu")(x)),
        layers.Conv2D(filters, 1, padding="same", activation="relu")(layers.MaxPooling2D(3, strides=1, padding="same")(x)),
    ]
    return layers.Concatenate()(branches)


def block_cae(shape, filters=(8, 16, 32, 64, 128), inception=False):
    """Five convolution blocks down and five up, each with batch normalisation, from the reference repository.

    Encoder block: Conv2D (3 x 3, ReLU) -> BatchNorm -> MaxPool 2; the filters
    grow block by block. Decoder block: Conv2D -> BatchNorm -> UpSampling 2;
    the filters shrink in mirror order. With ``inception=True`` an Inception
    block (parallel 1x1 / 3x3 / 5x5 / pooling branches) sits at the bottom.

    Args:
        shape (tuple): (height, width, channels), sides divisible by 2 ** len(filters).
        filters (tuple[int]): Filters per encoder block.
        inception (bool): Add the Inception block at the bottleneck.
    """
    factor = 2 ** len(filters)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(f"block_cae needs image sides divisible by {factor}, got {shape[:2]}; pad or crop first.")
    inputs = keras.Input(shape)
    x = inputs
    for n in filters:
        x = layers.MaxPooling2D(2)(layers.BatchNormalization()(layers.Conv2D(n, 3, padding="same", activation="relu")(x)))
    if inception:
        x = _inception(x, filters[-1] // 4)
    for n in reversed(filters):
        x = layers.UpSampling2D(2)(layers.BatchNormalization()(layers.Conv2D(n, 3, padding="same", activation="relu")(x)))
    outputs = layers.Conv2D(shape[2], 3, padding="same")(x)
    return keras.Model(inputs, outputs, name="block_cae" + ("_inception" if inception else ""))


def flat(build_model, *args, **kwargs):
    """Wrap an image -> image (or sequence -> sequence) builder as flat vector -> flat vector, for :class:`Autoencoder`.

    The model is built inside the returned builder, so :class:`Autoencoder`
    seeds it first and its ``random_state`` decides the initial weights.

    Args:
        build_model (callable): Returns a keras.Model whose input and output
            have the same shape, e.g. (height, width, channels) or (steps,
            n_features); e.g. :func:`strided_cae` or :func:`lstm_autoencoder`.
        *args: Passed on to ``build_model``.
        **kwargs: Passed on to ``build_model``.

    Returns:
        callable: A builder ``build(input_dim)`` as :class:`Autoencoder` takes it.
    """

    def build(input_dim):
        model = build_model(*args, **kwargs)
        shape = tuple(model.input_shape[1:])
        if int(np.prod(shape)) != input_dim:
            raise ValueError(f"{model.name} takes {shape} = {int(np.prod(shape))} values per input, not {input_dim}.")
        inputs = keras.Input((input_dim,))
        return keras.Model(inputs, layers.Flatten()(model(layers.Reshape(shape)(inputs))), name=f"flat_{model.name}")

    return build


# ---------------------------------------------------------------------------
# Sequence autoencoder (chapter 04)
# ---------------------------------------------------------------------------


def lstm_autoencoder(steps, n_features, units=32, latent=16):
    """An LSTM autoencoder for sequences of feature vectors.

    The encoder LSTM reads the whole sequence and keeps its last state; a
    dense layer squeezes that into ``latent`` numbers, the code of the
    sequence. The code is repeated once per step (``RepeatVector``), a decoder
    LSTM unrolls it back into a sequence, and the same dense layer at every
    step (``TimeDistributed``) maps its states to feature vectors.

    Args:
        steps (int): Sequence length (time steps).
        n_features (int): Values per step.
        units (int): State size of each LSTM.
        latent (int): Size of the code.

    Returns:
        keras.Model: (batch, steps, n_features) -> (batch, steps, n_features).
        Wrap it with :func:`flat` to use it in :class:`Autoencoder`.

    Notebook: 04_lstm_autoencoder.
    """
    inputs = keras.Input((steps, n_features))
    code = layers.Dense(latent)(layers.LSTM(units)(inputs))
    x = layers.LSTM(units, return_sequences=True)(layers.RepeatVector(steps)(code))
    return keras.Model(inputs, layers.TimeDistributed(layers.Dense(n_features))(x), name="lstm_autoencoder")


def nrmse(x, x_hat):
    """Normalised root-mean-square error per sample: RMSE divided by the range (max - min) of the input.

    Args:
        x, x_hat (np.ndarray): (n_samples, ...) inputs and reconstructions.

    Returns:
        np.ndarray: (n_samples,); 0 = perfect, scale-free across clips of different level.
    """
    x, x_hat = x.reshape(len(x), -1), x_hat.reshape(len(x_hat), -1)
    return np.sqrt(np.mean((x - x_hat) ** 2, axis=1)) / (x.max(axis=1) - x.min(axis=1))


def ssim(x, x_hat, max_val):
    """Structural similarity per image (TensorFlow's SSIM, 11 x 11 Gaussian window).

    Args:
        x, x_hat (np.ndarray): (n, height, width, channels) images.
        max_val (float): The dynamic range of the images (e.g. max - min of the training data).

    Returns:
        np.ndarray: (n,) in [-1, 1]; 1 = identical. As an anomaly score use
        ``1 - ssim`` (higher = more anomalous).
    """
    import tensorflow as tf

    return tf.image.ssim(tf.constant(x, tf.float32), tf.constant(x_hat, tf.float32), max_val=max_val).numpy()


def ssim_loss(shape, max_val):
    """Training loss ``1 - SSIM`` for flat models (see :func:`flat`): minimising it maximises similarity.

    Minimising +SSIM, as one reference project did, drives the network to make
    its output as *dissimilar* as possible.

    Args:
        shape (tuple): (height, width, channels) of one image.
        max_val (float): Dynamic range of the images.
    """
    import tensorflow as tf

    def loss(y_true, y_pred):
        images = [tf.reshape(t, (-1, *shape)) for t in (y_true, y_pred)]
        return 1.0 - tf.reduce_mean(tf.image.ssim(*images, max_val=max_val))

    return loss
