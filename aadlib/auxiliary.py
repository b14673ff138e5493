"""Auxiliary classification: the idea behind most DCASE Task 2 winners since 2020.

An autoencoder learns to rebuild normal data; an **auxiliary classifier** learns to tell apart
*kinds* of normal data instead: which machine ID (DCASE 2020), which section and attribute (2021
on), which mission a drone flew (chapter 09). It never sees an anomaly. The network maps a clip
to an **embedding** (a vector) and classifies it by the angle between the embedding and one learnt
**centre** per class. A clip that sounds unlike every normal clip of the training data lands far
from them, and its anomaly score is its cosine distance to the nearest normal training embeddings.

Cosine logits, with ``x`` the unit-length embedding and ``w_j`` the unit-length centre of class j::

    cos(theta_j) = w_j . x

- **ArcFace** (Deng et al. 2019) adds an angular margin ``m`` to the true class's angle and scales
  all logits by ``s``: ``logit_y = s cos(theta_y + m)``, ``logit_j = s cos(theta_j)`` (j != y),
  then softmax cross-entropy. Classes must be ``m`` radians apart to reach a low loss, which
  pulls each class's embeddings tightly around its centre.
- **AdaCos** (Zhang et al. 2019) has no margin and sets ``s`` itself, batch by batch, from the
  median angle of the true classes (:func:`adacos_scale`), so that there is nothing to tune.
- **Sub-cluster AdaCos** (Wilkinghoff 2021) gives each class several centres; a class's probability
  is the sum of the softmax over its centres, so one class may cover several kinds of sound.

:class:`AuxClassifier` has the detector interface of :mod:`aadlib.detectors`: ``fit(X, aux=labels)``
on normal feature rows (n_samples, n_features) with one auxiliary label per row,
``decision_function(X)`` (higher = more anomalous), ``threshold_``, ``predict(X)``, ``transform(X)``
(the embeddings). The score comes from a **back end** fitted on the training embeddings, any
detector of :mod:`aadlib.detectors` (default: the cosine distance to the nearest one, :class:`aadlib.KNN`).

Where the normal data has no labels at all (one machine, one condition), the labels can be made:
:class:`SelfSupervised` copies each clip with known transformations (pitch shifts, as Inoue et al.
did in DCASE 2020 among others) and classifies which one a copy had; a test clip is scored as it is.

Notebook: 09_auxiliary_classification.
"""

import numpy as np
from sklearn.base import clone

from .autoencoders import SCORE_BATCH, reconstruct, train_epochs
from .detectors import KNN, ClipWrapper, Detector, NotFittedError
from .store import FeatureFiles
from .utils import AadError, SEED, tensorflow_defaults

tensorflow_defaults()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

LOSSES = ("arcface", "adacos", "softmax")
"""The classification losses of :class:`AuxClassifier`."""

EMBED_VALUES = 2**20
""":class:`AuxClassifier` embeds at most this many input values at once (and at most
:data:`aadlib.autoencoders.SCORE_BATCH` rows): 4,096 clip summaries, 256 log-mel images of 64 x 64, whose
first convolution alone gives 16 values per pixel (158 MB for 600 images in one call)."""


def dense_embedding(input_dim, hidden=128, n_hidden=2, embedding=32):
    """A small dense network from a feature row to an embedding.

    Args:
        input_dim (int): Length of the input rows (e.g. 256 for a clip summary).
        hidden (int): Units of each hidden layer (batch normalisation and ReLU after each).
        n_hidden (int): Hidden layers.
        embedding (int): Length of the embedding (linear output).

    Returns:
        keras.Model: (batch, input_dim) -> (batch, embedding).
    """
    inputs = keras.Input((input_dim,))
    x = inputs
    for _ in range(n_hidden):
        x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(hidden)(x)))
    return keras.Model(inputs, layers.Dense(embedding)(x), name="dense_embedding")


def conv_embedding(input_shape, filters=(16, 32, 64), embedding=32, waveform_samples=None):
    """A small convolutional network from a log-mel image to an embedding.

    The DCASE Task 2 systems that classify machine IDs with an angular margin since 2020 read the
    whole clip's log-mel as an image. STgram-MFN (Liu et al., ICASSP 2022), for one, stacks the log-mel
    of a 10 s clip (128 bands x 313 frames) with a "Tgram" of the same size that a 1-D convolution
    learns from the waveform, and maps the two channels to a 128-value embedding with MobileFaceNet
    (a 3 x 3 convolution, 15 inverted-residual bottleneck blocks with depthwise convolutions and PReLU,
    a 1 x 1 convolution to 512 channels, then a "global depthwise" convolution that weighs every
    position of the last feature map, so that *where* in frequency a pattern sits still counts),
    trained with ArcFace on the machine IDs for hundreds of epochs on a GPU.

    This network keeps the idea (convolutions over a log-mel image, batch normalisation, an embedding
    on which a margin loss acts, and a last step that keeps the frequency axis) and simplifies the rest
    to train in seconds on two CPU cores: no waveform branch (the log-mel alone, one channel), 64 x 64
    images (:func:`aadlib.features.time_bins`), three plain blocks (3 x 3 convolution, batch
    normalisation, ReLU, 2 x 2 max pooling) instead of the bottlenecks, and, instead of the global
    depthwise convolution, the mean over time of the last feature map (a machine's sound is
    stationary over a clip, a fault is tied to no moment) followed by one linear layer over
    frequency x channels (a fault is tied to its bands).

    With ``waveform_samples``, the network also learns STgram's second channel from the waveform, simplified
    to these sizes. Its input is then one flat row per clip, the image's values (bands by spans of time)
    followed by the clip's ``waveform_samples`` samples (``aad benchmark``'s ``logmel_image_waveform``). It splits
    the row, and a "Tgram" of the image's shape is learnt from the waveform as STgram learns it: a 1-D
    convolution with ``n_mels`` filters, stride ``waveform_samples // n_frames`` (one output per span of
    time; STgram: stride 512 = its log-mel's hop, 128 filters) and a kernel of twice the stride (STgram: 1024,
    its window), no bias, then three blocks of layer normalisation over time, leaky ReLU (slope 0.2) and a
    1-D convolution of kernel 3 across the ``n_mels`` channels. The Tgram is stacked with the log-mel image as
    a second channel and both go through the same blocks as above. Kept of STgram: the learnt filter bank on
    the raw waveform, with one output per column of the log-mel image, its three blocks, and the two stacked
    channels. Dropped or changed: MobileFaceNet (as above); the sizes (64 bands by 64 spans, not 128 by 313
    frames), so that the stride grows with the clip (1,250 samples for 5 s at 16 kHz, 2,500 for 10 s) where
    STgram's is its log-mel's hop; and the image's columns are means of log-mel frames over a span, whereas
    the Tgram's filters see two spans of samples. The samples beyond ``n_frames`` strides (fewer than
    ``n_frames``) are left out, and the waveform is standardised sample by sample with the image
    (:class:`AuxClassifier` standardises every value of a row), which for a stationary sound is nearly one gain.

    Args:
        input_shape (tuple): (n_mels, n_frames) or (n_mels, n_frames, 1): one image (bands by rows);
            with ``waveform_samples``, (n_mels, n_frames), the image's shape inside the row.
        filters (tuple[int]): Channels of each block; each halves both axes.
        embedding (int): Length of the embedding (linear output).
        waveform_samples (int | None): Samples of the waveform after the image in each row (at least
            ``n_frames``); None: the image alone, the network above unchanged.

    Returns:
        keras.Model: (batch, n_mels, n_frames[, 1]) -> (batch, embedding); with ``waveform_samples``,
        (batch, n_mels * n_frames + waveform_samples) -> (batch, embedding).

    Notebook: behind ``aad benchmark``'s ``cnn_arcface``, ``cnn_pitch_classifier`` and, with the waveform branch,
    ``stgram_arcface`` (:data:`aadlib.methods.METHODS`).
    """
    input_shape = tuple(int(n) for n in input_shape)
    if len(input_shape) not in (2, 3) or (len(input_shape) == 3 and input_shape[2] != 1):
        raise AadError(f"conv_embedding takes images of (n_mels, n_frames) or (n_mels, n_frames, 1), not {input_shape}.")
    if min(input_shape[:2]) < 2 ** len(filters):
        raise AadError(f"An image of {input_shape[0]} x {input_shape[1]} is too small for {len(filters)} blocks that halve it "
                       f"each; give at least {2 ** len(filters)} bands and frames, or fewer filters.")
    if waveform_samples is None:
        inputs = keras.Input(input_shape)
        x = inputs if len(input_shape) == 3 else layers.Reshape((*input_shape, 1))(inputs)
    else:
        x, inputs = _with_tgram(input_shape, int(waveform_samples))
    for n in filters:
        x = layers.Conv2D(n, 3, padding="same", use_bias=False)(x)
        # momentum 0.9, not Keras's 0.99: with a hundred steps in all, the moving statistics the embedding
        # is computed with must forget their initial values (0.99 ** 120 still keeps 30 % of them)
        x = layers.MaxPooling2D(2)(layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x)))
    x = layers.Flatten()(keras.ops.mean(x, axis=2))  # (batch, bands, channels): the mean over time
    return keras.Model(inputs, layers.Dense(embedding)(x), name="conv_embedding")


def _with_tgram(image_shape, samples):
    """:func:`conv_embedding`'s waveform branch: (the stacked log-mel image and Tgram (batch, n_mels, n_frames, 2),
    the input of rows (batch, n_mels * n_frames + samples))."""
    if len(image_shape) != 2:
        raise AadError(f"With a waveform, conv_embedding takes the image's shape as (n_mels, n_frames), not {image_shape}.")
    n_mels, n_frames = image_shape
    stride = samples // n_frames
    if stride < 1:
        raise AadError(f"A waveform of {samples} samples is too short for a Tgram of {n_frames} frames; give at least {n_frames} samples.")
    inputs = keras.Input((n_mels * n_frames + samples,))
    image = layers.Reshape((n_mels, n_frames, 1))(inputs[:, : n_mels * n_frames])
    wave = layers.Reshape((n_frames * stride, 1))(inputs[:, n_mels * n_frames : n_mels * n_frames + n_frames * stride])
    # "same" padding: half a stride on each side, as STgram pads its kernel of two hops, so n_frames outputs
    tgram = layers.Conv1D(n_mels, 2 * stride, strides=stride, padding="same", use_bias=False)(wave)  # (batch, n_frames, n_mels)
    for _ in range(3):
        tgram = layers.LayerNormalization(axis=1)(tgram)  # over time, per channel, as STgram's LayerNorm(frames)
        tgram = layers.Conv1D(n_mels, 3, padding="same", use_bias=False)(layers.LeakyReLU(0.2)(tgram))
    tgram = layers.Reshape((n_mels, n_frames, 1))(layers.Permute((2, 1))(tgram))
    return layers.Concatenate()([image, tgram]), inputs


def cosine_logits(embeddings, centres):
    """cos(theta) between each embedding and each centre, both normalised to unit length.

    Args:
        embeddings: (batch, dim) tensor or array.
        centres: (dim, n_centres).

    Returns:
        tf.Tensor: (batch, n_centres) in [-1, 1].
    """
    return tf.matmul(tf.math.l2_normalize(embeddings, axis=1), tf.math.l2_normalize(centres, axis=0))


def arcface_logits(cos, onehot, scale, margin):
    """ArcFace: ``s cos(theta_y + m)`` for the true class, ``s cos(theta_j)`` for the others.

    Args:
        cos: (batch, n_classes) cosine logits.
        onehot: (batch, n_classes) float, 1 at the true class.
        scale (float): s.
        margin (float): m, in radians.

    Returns:
        tf.Tensor: (batch, n_classes) logits for softmax cross-entropy.
    """
    theta = tf.acos(tf.clip_by_value(cos, -1.0 + 1e-7, 1.0 - 1e-7))
    return scale * tf.where(onehot > 0, tf.cos(theta + margin), cos)


def adacos_scale(cos, onehot, scale):
    """AdaCos's scale for the next step: ``log(B) / cos(min(pi/4, theta_med))``.

    ``B`` is the mean over the batch of ``sum exp(s cos(theta_j))`` over the centres of the other
    classes, and ``theta_med`` the median angle of the embeddings to their own class's nearest centre.

    Args:
        cos: (batch, n_centres) cosine logits.
        onehot: (batch, n_centres) float, 1 at every centre of the true class.
        scale: The current scale s (scalar tensor).

    Returns:
        tf.Tensor: the new scale (scalar).
    """
    others = tf.reduce_mean(tf.reduce_sum(tf.where(onehot > 0, 0.0, tf.exp(scale * cos)), axis=1))
    own = tf.reduce_max(tf.where(onehot > 0, cos, -1.0), axis=1)
    theta = tf.sort(tf.acos(tf.clip_by_value(own, -1.0 + 1e-7, 1.0 - 1e-7)))
    median = theta[tf.shape(theta)[0] // 2]
    return tf.math.log(others) / tf.cos(tf.minimum(np.pi / 4, median))


class AuxClassifier(Detector):
    """A network trained to classify auxiliary labels of normal data; score = back end on its embeddings.

    Args:
        build (callable): ``build(input_dim)`` returns an uncompiled keras.Model from rows
            (batch, input_dim) to embeddings (batch, dim), e.g. :func:`dense_embedding`; where ``fit``
            gets images (n_samples, height, width[, 1]), ``build(image_shape)`` from images, e.g.
            :func:`conv_embedding`.
        loss (str): "arcface", "adacos" (sub-cluster AdaCos when ``sub_clusters > 1``) or
            "softmax" (cosine logits times ``scale``, no margin).
        margin (float): ArcFace's angular margin m in radians (0.5 in the ArcFace paper).
        scale (float): s for "arcface" and "softmax"; "adacos" sets its own.
        sub_clusters (int): Centres per class; for "arcface" and "softmax" a class's cosine is
            that of its nearest centre (sub-center ArcFace), for "adacos" its probability is the
            sum over its centres (sub-cluster AdaCos).
        backend (Detector): Fitted on the training embeddings, scores the test embeddings
            (cloned; default ``KNN(n_neighbors=1, metric="cosine", standardize=False)``).
        epochs (int): Passes over the training data.
        batch_size (int): Rows per gradient step.
        learning_rate (float): Adam's step size.
        random_state (int): Seeds the initial weights and the order of the batches.
        contamination, threshold, standardize: As :class:`aadlib.detectors.Detector`.

    Attributes:
        model_ (keras.Model): The trained embedding network.
        centres_ (np.ndarray): (dim, n_classes * sub_clusters) class centres (class-major).
        classes_ (np.ndarray): The auxiliary labels, in the order of the centres.
        backend_ (Detector): The fitted back end.
        image_shape_ (tuple | None): The shape of one image where ``fit`` got images, else None. Images
            are standardised value by value and scored as ``fit`` got them (or as rows of their values).
        history_ (dict): ``loss`` (mean per epoch), ``accuracy`` (training rows classified right,
            per epoch) and, for "adacos", ``scale`` (at the end of each epoch).
    """

    def __init__(self, build=dense_embedding, loss="arcface", margin=0.5, scale=30.0, sub_clusters=1, backend=None,
                 epochs=50, batch_size=64, learning_rate=1e-3, random_state=SEED,
                 contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(contamination, threshold, standardize)
        self.build = build
        self.loss = loss
        self.margin = margin
        self.scale = scale
        self.sub_clusters = sub_clusters
        self.backend = backend
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, X, y=None, aux=None):
        """Learn the normal rows X (n_samples, n_features), or images (n_samples, height, width[, 1]),
        by classifying ``aux``; y is ignored; returns self.

        Args:
            aux (array): (n_samples,) one auxiliary label per row (machine ID, section, mission...),
                at least two different ones. scikit-learn's ``GridSearchCV(...).fit(X, y, aux=aux)``
                passes it on, split as X is.
        """
        if self.loss not in LOSSES:
            raise AadError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}.")
        if aux is None:
            raise AadError("AuxClassifier needs an auxiliary label per training row: fit(X, aux=labels), e.g. the machine ID or the mission.")
        aux = np.asarray(aux)
        if len(aux) != len(X):
            raise AadError(f"fit got {len(X)} rows but {len(aux)} auxiliary labels; give one label per row.")
        self.classes_, self._targets = np.unique(aux, return_inverse=True)
        if len(self.classes_) < 2:
            raise AadError(f"Every training row has the auxiliary label {self.classes_[0]!r}; a classifier needs at least two classes.")
        self.image_shape_ = None if isinstance(X, FeatureFiles) or np.ndim(X) <= 2 else tuple(np.shape(X)[1:])
        return super().fit(self._rows(X))

    def _rows(self, X):
        """Images as rows of their values, for the standardisation and the checks; rows, and sets on disk, as they are."""
        if isinstance(X, FeatureFiles) or np.ndim(X) <= 2:
            return X
        X = np.asarray(X)
        fitted = getattr(self, "image_shape_", None)
        if fitted != X.shape[1:]:
            raise AadError(f"The detector was fitted on {f'images of {fitted}' if fitted else 'rows'}, not images of {X.shape[1:]}.")
        return X.reshape(len(X), -1)

    def decision_function(self, X):
        """Anomaly scores (n_samples,) of rows X (n_samples, n_features), or of images as ``fit`` got them; higher = more anomalous."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X_train, aux=labels) first.")
        return super().decision_function(self._rows(X))

    def _fit(self, X):
        keras.utils.set_random_seed(self.random_state)
        model = self.build(self.image_shape_ or X.shape[1])
        if tuple(model.input_shape[1:]) != (self.image_shape_ or (X.shape[1],)):
            raise AadError(f"The network {model.name} takes inputs of {tuple(model.input_shape[1:])}, but fit got "
                           f"{f'images of {self.image_shape_}' if self.image_shape_ else f'rows of {X.shape[1]} values'}; build it for these.")
        n_classes, per_class = len(self.classes_), int(self.sub_clusters)
        centres = tf.Variable(keras.random.normal((model.output_shape[-1], n_classes * per_class), seed=self.random_state), name="centres")
        variables = [*model.trainable_variables, centres]
        optimizer = keras.optimizers.Adam(self.learning_rate)
        optimizer.build(variables)  # now, not in the first traced step, which tf.function would then trace twice
        onehot = np.repeat(np.eye(n_classes, dtype=np.float32), per_class, axis=1)[self._targets]  # every centre of the true class
        scale = tf.Variable(np.sqrt(2.0) * np.log(n_classes * per_class - 1) if self.loss == "adacos" else float(self.scale), dtype=tf.float32)

        def step(x, target):
            with tf.GradientTape() as tape:
                cos = cosine_logits(model(x, training=True), centres)
                loss, correct = self._loss(cos, target, scale, n_classes, per_class)
            optimizer.apply(tape.gradient(loss, variables), variables)
            if self.loss == "adacos":
                scale.assign(adacos_scale(tf.stop_gradient(cos), target, scale))
            n = tf.cast(tf.shape(x)[0], tf.float32)
            return loss * n, correct

        self.history_ = {"loss": [], "accuracy": [], **({"scale": []} if self.loss == "adacos" else {})}
        inputs = X if self.image_shape_ is None else X.reshape(len(X), *self.image_shape_)
        for loss, accuracy in train_epochs(step, [inputs, onehot], self.batch_size, self.epochs, self.random_state, n_sums=2):
            self.history_["loss"].append(loss)
            self.history_["accuracy"].append(accuracy)
            if self.loss == "adacos":
                self.history_["scale"].append(float(scale))
        self.centres_ = centres.numpy()
        self.backend_ = clone(self.backend if self.backend is not None else KNN(n_neighbors=1, metric="cosine", standardize=False))
        return model

    def _loss(self, cos, target, scale, n_classes, per_class):
        """(mean cross-entropy, rows whose nearest class is the true one) for a batch of cosine logits."""
        by_class = lambda values, reduce: reduce(tf.reshape(values, (-1, n_classes, per_class)), axis=2)  # noqa: E731
        true_class = by_class(target, tf.reduce_max)
        if self.loss == "adacos":  # sub-cluster AdaCos: a class's probability is the sum over its centres
            probability = by_class(tf.nn.softmax(scale * cos), tf.reduce_sum)
            loss = -tf.reduce_mean(tf.math.log(tf.reduce_sum(probability * true_class, axis=1) + 1e-12))
            predicted = probability
        else:
            class_cos = by_class(cos, tf.reduce_max)  # sub-center ArcFace: the nearest centre of each class
            logits = arcface_logits(class_cos, true_class, scale, self.margin) if self.loss == "arcface" else scale * class_cos
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(true_class, logits))
            predicted = class_cos
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(predicted, axis=1), tf.argmax(true_class, axis=1)), tf.float32))
        return loss, correct

    def _embed(self, Xs):
        Xs = Xs.astype(np.float32)
        batch = max(1, min(SCORE_BATCH, EMBED_VALUES // Xs.shape[1]))
        return reconstruct(self.model_, Xs if self.image_shape_ is None else Xs.reshape(len(Xs), *self.image_shape_), batch_size=batch)

    def _train_scores(self, Xs):
        self.backend_.fit(self._embed(Xs))
        return self.backend_.decision_scores_

    def _score(self, Xs):
        return self.backend_.decision_function(self._embed(Xs))

    def transform(self, X):
        """The embeddings (n_samples, dim) of rows X (n_samples, n_features), or of images as ``fit`` got them."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X_train, aux=labels) first.")
        return self._embed(self.scaler_.transform(self._check(self._rows(X))))

    def classify(self, X):
        """The auxiliary label of the nearest centre, per row of X: how well the auxiliary task was learnt."""
        cos = cosine_logits(self.transform(X), self.centres_).numpy()
        return self.classes_[cos.argmax(axis=1) // int(self.sub_clusters)]


class SelfSupervised(ClipWrapper):
    """An auxiliary classifier whose labels are made: which transformation each copy of a clip had.

    A clip's features hold one row per transformation, the untransformed one first, e.g. the clip
    summaries of the clip and of its copies shifted by +2 and -2 semitones
    (``aad benchmark``'s ``pitch_summaries``). The classifier learns to tell the transformations
    apart on the normal training clips; a clip is scored by its untransformed row alone.

    Args:
        detector (AuxClassifier | None): Unfitted; fitted on every row of the training clips with
            the row's transformation (0, 1, ...) as auxiliary label (default ``AuxClassifier()``).
        n_transforms (int): Rows per clip, the untransformed one included.

    Attributes:
        detector_ (AuxClassifier): The fitted copy of ``detector``.
        threshold_ (float): From the training clips' scores (:func:`aadlib.detectors.decision_threshold`).

    Notebook: 09_auxiliary_classification.
    """

    def __init__(self, detector=None, n_transforms=3):
        self.detector, self.n_transforms = detector, n_transforms

    def _rows(self, X):
        X = np.asarray(X, dtype=float)
        k = int(self.n_transforms)
        if k < 2 or X.ndim != 2 or X.shape[1] % k:
            raise AadError(f"SelfSupervised needs each clip's row to hold n_transforms = {k} (at least 2) rows of equal length, "
                           f"but got clips of {X.shape[1:] or 'no'} values; extract a transformed kind such as pitch_summaries.")
        return X.reshape(len(X), k, -1)

    def fit(self, X, y=None):
        """Learn which transformation each row of the normal clips X (n_clips, n_transforms * n_features) had; returns self."""
        rows = self._rows(X)
        detector = self.detector if self.detector is not None else AuxClassifier()
        aux = np.tile(np.arange(rows.shape[1]), len(rows))
        self.detector_ = clone(detector).fit(rows.reshape(-1, rows.shape[2]), aux=aux)
        self._set_threshold(X)
        return self

    def _clip_scores(self, X):
        """The classifier's score of each clip's untransformed row."""
        return self.detector_.decision_function(self._rows(X)[:, 0])
