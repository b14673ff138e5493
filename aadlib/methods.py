"""The methods of ``aad benchmark``: one declarative record per method, and a YAML file to change them.

A method is a :class:`Method`: the feature kind it reads (a key of :data:`aadlib.store.FEATURES`),
the detector it trains (a class of :mod:`aadlib.detectors`, :mod:`aadlib.autoencoders` or
:mod:`aadlib.gan`, by name), the detector's settings (its constructor's keyword arguments), and for
the autoencoders the network. :data:`METHODS` holds the course's methods with the settings of the
chapters. A YAML file changes them for one run (``aad benchmark --config FILE``, :func:`configured`)::

    lof: {n_neighbors: 3}
    dense_ae: {epochs: 100}
    gmm: {kind: level}

Each key is a method name; its value sets the feature kind (``kind``) and any of the detector's
settings; the rest keep the chapters' values.

The records name the deep-learning classes instead of importing them, so that ``aad --help`` and
the classical methods need neither Keras nor TensorFlow.

Notebook: 07_comparison (:data:`METHODS`, :data:`CLASSICAL`), 08_real_flights (:data:`METHODS`);
behind ``aad benchmark``.
"""

import dataclasses
import importlib.util
import inspect
from pathlib import Path

import numpy as np
from sklearn.base import clone

from .detectors import DETECTORS, ClipWrapper, check_domains, score_clips
from .store import FEATURES, MUSICNN_BACKBONES, FeatureFiles
from .utils import AadError

DEEP_DETECTORS = ("autoencoder", "interpolator", "mahalanobis_ae", "anogan", "auxclassifier")
"""The detectors that need Keras and TensorFlow (:class:`aadlib.autoencoders.Autoencoder`,
:class:`aadlib.autoencoders.Interpolator`, :class:`aadlib.autoencoders.MahalanobisAutoencoder`, :class:`aadlib.gan.AnoGAN`,
:class:`aadlib.auxiliary.AuxClassifier`), by name; imported when a method is made."""

NETWORKS = {
    "dense": "aadlib.autoencoders.dense_autoencoder (the DCASE 2020 baseline's 4 x 128 -> 8 -> 4 x 128)",
    "conv1d": "aadlib.autoencoders.conv1d_autoencoder with 2 channels (a clip summary's band means, then its deviations)",
    "cae2d": "aadlib.autoencoders.strided_cae on the clip's image (height, width, 1), flat",
    "lstm": "aadlib.autoencoders.lstm_autoencoder on the clip's windows (n_windows, n_features), latent 8, flat",
    "cnn": "aadlib.auxiliary.conv_embedding on the clip's log-mel image (n_mels, n_frames), the last two axes of its features, flat",
    "stgram": "aadlib.auxiliary.conv_embedding with its waveform branch, on a row of the clip's log-mel image (the n_mels and n_bins "
              "of logmel_image_waveform) and its waveform (the rest of the row)",
}
"""The networks of the autoencoder methods, and the auxiliary classifiers' convolutional embedding, built for the
shape of one clip's features (:func:`network`)."""

WIRED = ("random_state", "build", "shape")
"""Detector arguments a method sets itself, not from its settings: the seed, the network and the patch shape."""


def network(name, example):
    """The Keras builder ``build(input_dim)`` of one of :data:`NETWORKS` for clips whose features look like ``example``.

    Args:
        name (str): A key of :data:`NETWORKS`.
        example (np.ndarray): One clip's features in their own shape, e.g. (64, 64) for a modulation image.

    Returns:
        callable: As :class:`aadlib.autoencoders.Autoencoder` takes it.
    """
    from .autoencoders import conv1d_autoencoder, dense_autoencoder, flat, lstm_autoencoder, strided_cae

    if name == "dense":
        return dense_autoencoder
    if name == "conv1d":
        return lambda dim: conv1d_autoencoder(dim, channels=2)
    if name == "cae2d":
        return flat(strided_cae, (*example.shape, 1))
    if name == "lstm":
        return flat(lstm_autoencoder, *example.shape, latent=8)
    if name == "cnn":
        from .auxiliary import conv_embedding

        return flat(conv_embedding, example.shape[-2:])  # a self-supervised clip's features hold one image per pitch shift
    if name == "stgram":
        from .auxiliary import conv_embedding

        image = FEATURES["logmel_image_waveform"]["n_mels"], FEATURES["logmel_image_waveform"]["n_bins"]
        samples = example.size - image[0] * image[1]  # a row that is not image + waveform is explained by AuxClassifier.fit
        return lambda dim: conv_embedding(image, waveform_samples=samples)
    raise AadError(f"Unknown network {name!r}; choose from {', '.join(NETWORKS)}.")


def detector_class(name):
    """The class of a detector name: a key of :data:`aadlib.detectors.DETECTORS` or of :data:`DEEP_DETECTORS`
    (imported now: Keras and TensorFlow for the deep ones)."""
    if name in DETECTORS:
        return DETECTORS[name]
    if name not in DEEP_DETECTORS:
        raise AadError(f"Unknown detector {name!r}; choose from {', '.join([*DETECTORS, *DEEP_DETECTORS])}.")
    from .autoencoders import Autoencoder, Interpolator, MahalanobisAutoencoder
    from .auxiliary import AuxClassifier
    from .gan import AnoGAN

    return {"autoencoder": Autoencoder, "interpolator": Interpolator, "mahalanobis_ae": MahalanobisAutoencoder, "anogan": AnoGAN,
            "auxclassifier": AuxClassifier}[name]


def _parameters(cls):
    """The names of a detector class's constructor arguments (scikit-learn's parameters)."""
    return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]


class PerPatch(ClipWrapper):
    """A detector of patches behind the clip interface: fitted on every patch of the training clips,
    a clip's score is the mean score of its patches (as chapter 05 scores clips).

    Args:
        detector (Detector): Unfitted, on (n_patches, patch_size); its ``threshold`` and
            ``contamination`` set the clips' threshold.
        patch_size (int): Values per patch; a clip's row holds its patches one after the other.

    Attributes:
        detector_ (Detector): The fitted copy of ``detector``.
        threshold_ (float): From the training clips' scores (:func:`aadlib.detectors.decision_threshold`).
    """

    def __init__(self, detector, patch_size):
        self.detector, self.patch_size = detector, patch_size

    def fit(self, X, y=None, domains=None):
        """Fit on the patches of X: an array (n_clips, n_values), or :class:`aadlib.store.FeatureFiles`, whose patches
        stay on disk; y is ignored; ``domains`` (n_clips,): each clip's domain, given to every one of its patches (for a
        detector that takes them, :class:`aadlib.autoencoders.MahalanobisAutoencoder`); returns self."""
        patches = X.as_rows(self.patch_size) if isinstance(X, FeatureFiles) else np.asarray(X).reshape(-1, self.patch_size)
        if domains is None:
            self.detector_ = clone(self.detector).fit(patches)
        else:
            domains = check_domains(domains, len(X))
            self.detector_ = clone(self.detector).fit(patches, domains=np.repeat(domains, len(patches) // len(X)))
        self._set_threshold(X)
        return self

    def _clip_scores(self, X):
        """The mean score of each clip's patches; a selective detector's clip takes the domain it fits best over all its patches."""
        if isinstance(X, FeatureFiles):
            return np.concatenate([self._clip_scores(clips) for clips in X.chunks()])
        patches = np.asarray(X).reshape(len(X), -1, self.patch_size)
        if len(getattr(self.detector_, "domains_", [None])) > 1:
            return self.detector_.domain_scores(patches.reshape(-1, self.patch_size)).reshape(len(X), patches.shape[1], -1).mean(axis=1).min(axis=1)
        return score_clips(self.detector_, patches)


@dataclasses.dataclass(frozen=True)
class Method:
    """One method of ``aad benchmark``: which features, which detector, with which settings.

    Args:
        kind (str): The feature kind, a key of :data:`aadlib.store.FEATURES`.
        detector (str): The detector: a key of :data:`aadlib.detectors.DETECTORS` ("gmm", "lof", ...)
            or of :data:`DEEP_DETECTORS` ("autoencoder", "interpolator", "mahalanobis_ae", "anogan", "auxclassifier").
        settings (dict): Keyword arguments of the detector's class, e.g. ``{"epochs": 60, "batch_size": 20}``;
            the seed (``random_state``, where the class has one), the network (``build``) and the
            GAN's patch ``shape`` are set by the method (:data:`WIRED`).
        network (str | None): For "autoencoder" (and "cnn" or "stgram" for "auxclassifier"): a key of :data:`NETWORKS`,
            built for the shape of one clip's features.
        per_patch (bool): Train on the rows of each clip's features (patches, frame stacks) and score
            a clip by the mean score of its rows (:class:`PerPatch`).
        auxiliary (bool): The detector is fitted with an auxiliary label per training clip,
            ``fit(X, aux=labels)`` (:class:`aadlib.auxiliary.AuxClassifier`): the mission path of a
            recording (``aad benchmark`` on long recordings), or the machine ID or section of a
            clip (on DCASE and MIMII folders, where one classifier learns every machine of a type).
        self_supervised (bool): Each clip's features hold one row per transformation of the clip
            (``pitch_summaries``); the detector learns which transformation each row had and scores
            a clip by its untransformed row (:class:`aadlib.auxiliary.SelfSupervised`): an
            auxiliary classifier for a folder of one machine, with no labels to classify.
        domains (bool): The detector is fitted with the domain of each training clip, ``fit(X, domains=labels)``
            (selective Mahalanobis, :class:`aadlib.autoencoders.MahalanobisAutoencoder`), where the clips have
            domains ("source" and "target" in DCASE 2022 and later file names); where none has one it is
            fitted without, as one domain.

    A method unpacks as ``kind, make = METHODS[name]`` (``make(seed, example)``, see :meth:`make`).
    """

    kind: str
    detector: str
    settings: dict = dataclasses.field(default_factory=dict)
    network: str | None = None
    per_patch: bool = False
    auxiliary: bool = False
    self_supervised: bool = False
    domains: bool = False

    def make(self, seed, example):
        """An unfitted detector.

        Args:
            seed (int): Its ``random_state``, where its class has one.
            example (np.ndarray): One clip's features in their own shape (the network and the
                GAN's patches are shaped by them), e.g. (n_patches, 32, 32).

        Returns:
            Detector: A detector of clips (rows of n_values), :class:`PerPatch` if ``per_patch``.
        """
        cls = detector_class(self.detector)
        params = dict(self.settings)
        if "random_state" in _parameters(cls):
            params["random_state"] = seed
        if self.network:
            params["build"] = network(self.network, example)
        if self.detector == "anogan":
            params["shape"] = example.shape[1:]
        detector = cls(**params)
        if self.self_supervised:
            from .auxiliary import SelfSupervised

            return SelfSupervised(detector, len(example))
        return PerPatch(detector, example[0].size) if self.per_patch else detector

    def fit_arguments(self, aux=None, domains=None):
        """The keyword arguments of the detector's ``fit`` beside X, from what is known of the training clips.

        Args:
            aux (array | None): (n_train,) each training clip's auxiliary label (a machine, a mission path).
            domains (array | None): (n_train,) each training clip's domain, "" where it has none.

        Returns:
            dict: ``{"aux": aux}`` for an auxiliary classifier, ``{"domains": domains}`` for a method
            with domains where a training clip has one, else empty.
        """
        if self.auxiliary:
            return {"aux": np.asarray(aux)}
        if self.domains and domains is not None and (np.asarray(domains) != "").any():
            return {"domains": np.asarray(domains)}
        return {}

    def __iter__(self):
        """``kind, make = method``: the pair :data:`METHODS` held before the records."""
        return iter((self.kind, self.make))

    def __getitem__(self, index):
        return (self.kind, self.make)[index]

    def setting_names(self):
        """The settings a configuration may give: the detector's arguments but :data:`WIRED` ones (imports the deep ones)."""
        return [name for name in _parameters(detector_class(self.detector)) if name not in WIRED]


METHODS = {
    # chapter 01: the classical detectors on clip summaries, with their defaults
    "gmm": Method("clip_summary", "gmm"),
    "iforest": Method("clip_summary", "iforest"),
    "ocsvm": Method("clip_summary", "ocsvm"),
    "lof": Method("clip_summary", "lof"),
    # chapter 02
    "dense_ae": Method("clip_summary", "autoencoder", {"epochs": 60, "batch_size": 20}, network="dense"),
    "conv1d_ae": Method("clip_summary", "autoencoder", {"epochs": 60, "batch_size": 20}, network="conv1d"),
    # chapter 03, standardised per value instead of per band; 20 epochs where chapter 03 trains 40: the same AUC on
    # anomaly_mini (1.00 for seeds 0-2), in 60 % of the time
    "cae2d": Method("modulation_image", "autoencoder", {"epochs": 20, "batch_size": 4}, network="cae2d"),
    # chapter 04
    "lstm_ae": Method("window_summary", "autoencoder", {"epochs": 30, "batch_size": 4, "learning_rate": 2e-3}, network="lstm"),
    # chapter 09: the DCASE 2020 baseline's network and input, trained as chapter 09 trains it (30 epochs, not 100), its dB
    # values as they are; IDNN on the same stacks, standardised per value
    "dcase2020_ae": Method("frame_stacks", "autoencoder", {"epochs": 30, "batch_size": 64, "standardize": False}, network="dense", per_patch=True),
    "idnn": Method("frame_stacks", "interpolator", {"epochs": 30, "batch_size": 64}, per_patch=True),
    # chapter 09: the DCASE 2023 and 2024 baselines' scores of the same autoencoder, the Mahalanobis distance of its residual:
    # one Gaussian of every training clip's residuals (simple, section 5), or one per domain, source and target, a clip
    # scored by the smaller distance (selective: the baselines' "Selective Mahalanobis mode")
    "dcase2023_ae": Method("frame_stacks", "mahalanobis_ae", {"epochs": 30, "batch_size": 64, "standardize": False}, network="dense",
                           per_patch=True),
    "dcase2023_ae_selective": Method("frame_stacks", "mahalanobis_ae", {"epochs": 30, "batch_size": 64, "standardize": False}, network="dense",
                           per_patch=True, domains=True),
    # chapter 05: AnoGAN's latent search and f-AnoGAN's encoder on modulation patches
    "anogan": Method("modulation_patches", "anogan", {"search": "gradient"}, per_patch=True),
    "fanogan": Method("modulation_patches", "anogan", {"search": "encoder"}, per_patch=True),
    # chapter 09: auxiliary classification on clip summaries, as chapter 09 trains it on the flights (30 epochs; the
    # embedding scored by its cosine distance to the nearest normal training embedding)
    "arcface": Method("clip_summary", "auxclassifier", {"loss": "arcface", "epochs": 30}, auxiliary=True),
    "adacos": Method("clip_summary", "auxclassifier", {"loss": "adacos", "sub_clusters": 4, "epochs": 30}, auxiliary=True),
    # and, for a folder of one machine, the self-supervised classifier: which pitch shift (0, +2, -2 semitones) a copy had
    "pitch_classifier": Method("pitch_summaries", "auxclassifier", {"loss": "adacos", "epochs": 30, "batch_size": 16}, self_supervised=True),
    # the same two on 64 x 64 log-mel images, with a small CNN as the embedding (aadlib.auxiliary.conv_embedding, a simplified
    # STgram-MFN) instead of the dense network on clip summaries; the settings of arcface and pitch_classifier
    "cnn_arcface": Method("logmel_image", "auxclassifier", {"loss": "arcface", "epochs": 30}, network="cnn", auxiliary=True),
    # cnn_arcface with STgram's second channel: a "Tgram" learnt from the waveform, stacked with the log-mel image
    "stgram_arcface": Method("logmel_image_waveform", "auxclassifier", {"loss": "arcface", "epochs": 30}, network="stgram", auxiliary=True),
    "cnn_pitch_classifier": Method("pitch_logmel_images", "auxclassifier", {"loss": "adacos", "epochs": 30, "batch_size": 16}, network="cnn",
                                   self_supervised=True),
    # chapter 06: kNN distance on a pretrained backbone's embedding
    **{f"transfer:{name}": Method(f"embedding:{name}", "knn") for name in MUSICNN_BACKBONES},
}
"""The methods by name (:class:`Method`), with the settings of the chapters: 01 (gmm, iforest, ocsvm, lof),
02 (dense_ae, conv1d_ae), 03 (cae2d: the strided CAE on modulation images), 04 (lstm_ae), 05 (anogan,
fanogan), 06 (transfer:<backbone>), 09 (dcase2020_ae: the DCASE 2020 baseline's dense autoencoder on
frame stacks; dcase2023_ae and dcase2023_ae_selective: the same autoencoder scored by the Mahalanobis distance of its residual
as the DCASE 2023 and 2024 baselines score it, simple or selective (one Gaussian per domain, see :attr:`Method.domains`); idnn: the interpolation network on the same stacks; arcface and adacos: auxiliary classifiers,
ArcFace and sub-cluster AdaCos with 4 centres per class, see :attr:`Method.auxiliary`; pitch_classifier: the
self-supervised classifier of pitch-shifted copies, see :attr:`Method.self_supervised`; cnn_arcface and
cnn_pitch_classifier: arcface and pitch_classifier with a convolutional embedding of 64 x 64 log-mel images;
stgram_arcface: cnn_arcface with a second channel learnt from the waveform, as STgram-MFN's Tgram)."""


CLASSICAL = ("gmm", "iforest", "ocsvm", "lof")
"""The methods that need no deep-learning library; every other one needs Keras and TensorFlow (aadlib's ``deep`` extra)."""


def check_methods(methods):
    """Raise one clear error for an unknown method name, listing the known ones, or for a method whose
    deep-learning libraries are not installed, naming the extra that installs them."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise AadError(f"Unknown method {unknown[0]!r}; known methods: {', '.join(METHODS)}.")
    deep = [m for m in methods if m not in CLASSICAL]
    missing = [name for name in ("keras", "tensorflow") if importlib.util.find_spec(name) is None]
    if deep and missing:
        raise AadError(f"Method {deep[0]!r} needs {' and '.join(missing)}, which is not installed; install aadlib's "
                       f"deep-learning extra (pip install 'aadlib[deep]'), or run only {', '.join(CLASSICAL)}.")


def read_config(path):
    """The method settings of a YAML file (see the module's docstring), checked.

    Args:
        path (str | Path): The file.

    Returns:
        dict: Method name -> {setting: value} (``kind`` for the feature kind), as :func:`configured` takes it.
        YAML 1.1 reads ``2e-3`` as text: write ``0.002`` or ``2.0e-3``.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise AadError(f"The configuration file {path} does not exist.")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise AadError(f"{path} is not valid YAML: {getattr(error, 'problem', None) or 'it cannot be read'}{where}.") from None
    return check_config(config or {}, str(path))


def check_config(config, source="the configuration"):
    """Check method settings: every key a method of :data:`METHODS`, every setting one its detector takes.

    Args:
        config (dict): Method name -> {setting: value}; ``kind`` sets the feature kind.
        source (str): What to call it in an error, e.g. the file's name.

    Returns:
        dict: ``config``.
    """
    example = "e.g. `lof: {n_neighbors: 3}`"
    if not isinstance(config, dict):
        raise AadError(f"{source} must map method names to their settings, {example}.")
    for name, settings in config.items():
        if name not in METHODS:
            raise AadError(f"{source} names an unknown method {name!r}; known methods: {', '.join(METHODS)}.")
        if not isinstance(settings, dict):
            raise AadError(f"{source} gives {name} {settings!r}, not a mapping of settings, {example}.")
        if not isinstance(METHODS[name], Method):
            raise AadError(f"Method {name!r} is not a Method record, so {source} cannot change its settings.")
        if "kind" in settings and settings["kind"] not in FEATURES:
            raise AadError(f"{source} gives {name} the unknown feature kind {settings['kind']!r}; choose from {', '.join(FEATURES)}.")
        keys = [key for key in settings if key != "kind"]
        if keys:
            check_methods([name])  # the deep detectors' settings are read from their classes, which import Keras
            allowed = METHODS[name].setting_names()
            unknown = [key for key in keys if key not in allowed]
            if unknown:
                raise AadError(f"{source} gives {name} the unknown setting {unknown[0]!r}; its detector ({METHODS[name].detector}) "
                               f"takes kind (the feature kind) and {', '.join(allowed)}.")
    return config


def configured(config=None):
    """:data:`METHODS` with the settings of a configuration.

    Args:
        config (dict | None): Method name -> {setting: value} (``kind`` for the feature kind), as
            :func:`read_config` reads it from a YAML file; None: the methods as they are.

    Returns:
        dict: Method name -> :class:`Method`: a new dict where ``config`` changes something
        (:data:`METHODS` itself never changes).
    """
    if not config:
        return METHODS
    methods = dict(METHODS)
    for name, settings in check_config(config).items():
        method = METHODS[name]
        changes = {key: value for key, value in settings.items() if key != "kind"}
        methods[name] = dataclasses.replace(method, kind=settings.get("kind", method.kind), settings={**method.settings, **changes})
    return methods
