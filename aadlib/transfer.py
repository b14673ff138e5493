"""Transfer learning: frozen networks pretrained on other sounds (or images) turn clips into embeddings.

Two families of backbones, one interface (:class:`Backbone`):

* **musicnn** (Pons & Serra, 2019; ISC licence): CNNs trained to tag music
  (MagnaTagATune "MTT", Million Song Dataset "MSD"). Their TensorFlow 1
  checkpoints ship in the PyPI wheel of ``musicnn`` 0.1.0, whose own code needs
  TensorFlow 1: aadlib downloads the wheel as data (``aadlib.fetch("musicnn")``,
  checked by its SHA-256), never installs or imports it, and reads the
  checkpoints from it. :func:`musicnn_model` rebuilds the networks in Keras 3
  and sets the checkpoint's weights; the converted weights are cached in the
  data cache.
  Input: 96-band log-mel at 16 kHz (hop 256), patches of 187 frames (3 s).
* **ImageNet CNNs** from ``keras.applications`` (MobileNetV2, ResNet50,
  DenseNet121) on the log-mel patch as a grey image copied to three channels.
  Their weights download on first use; without internet :func:`imagenet_model`
  says so in one sentence.

Notebook: 06_transfer_learning.
"""

import os
import warnings
from pathlib import Path

import numpy as np

from . import features
from .data import fetch, sha256, writable_cache
from .utils import AadError, SEED, tensorflow_defaults

tensorflow_defaults()
import keras  # noqa: E402
from keras import layers  # noqa: E402

MUSICNN_VERSION = "0.1.0"
SR = 16000
"""Sample rate (Hz) of every backbone's input."""
N_MELS = 96
PATCH_FRAMES = 187
"""Frames per input patch (3 s at hop 256 and 16 kHz, the length musicnn was trained on)."""

MUSICNN_CHECKPOINTS = {
    "MTT_musicnn": ("041f3935e981a65cea739842d30c188d3a7d2adf4410955c8668eb3de4a5acab", "da2d7bb670b2b31e9bc441bb1bd75eca31b5b061f963cc1f9630c1aff3238f57"),
    "MSD_musicnn": ("8579734ee6388f799ed0def4bbd0d1fdcbeaf213ef2a9dc860917bd76a303de6", "87f3e0f3550c8d3bafc840374003e5c8af5eeb5ecf6add61af09a7822d3282c8"),
    "MTT_vgg": ("458f5c8bcecc086a3bba3dce83809df6da6e0a3560a59ddd84711bf3d5fd8303", "4b0d3d2d02bbe0919c063c1fb74bfa9018ac3517e362d681b07444d4207a5f5f"),
    "MSD_vgg": ("9683d756b8311146534f333502ebf4a2a78a3e320c54ab0411dff6186d8375fc", "50e499238457558bba9f34f8b84d4afb8279afd43520cdf0a4fdf805a49c9ca3"),
}
"""SHA-256 of each checkpoint's ``.data-00000-of-00001`` and ``.index`` file in musicnn 0.1.0."""

VGG_POOLS = {
    "MTT_vgg": [((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))],
    "MSD_vgg": [((4, 1), (4, 1)), ((1, 4), (1, 4)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))],
}
"""(pool size, strides) of the five max-pooling layers, read from each checkpoint's own graph
(``.meta``): MSD_vgg pools differently from what musicnn's ``models.py`` builds."""

MTT_TAGS = [
    'guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock', 'fast', 'piano',
    'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male', 'singing', 'vocals',
    'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman', 'male vocal', 'no vocal', 'pop', 'soft',
    'sitar', 'solo', 'man', 'classic', 'choir', 'voice', 'new age', 'dance', 'male voice', 'female vocal',
    'beats', 'harp', 'cello', 'no voice', 'weird', 'country', 'metal', 'female voice', 'choral',
]
"""The 50 tags of the MTT networks' ``taggram`` output, in order (from musicnn's configuration)."""
MSD_TAGS = [
    'rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s',
    'alternative rock', 'jazz', 'beautiful', 'metal', 'chillout', 'male vocalists', 'classic rock', 'soul',
    'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s', 'chill', 'instrumental', 'punk', 'oldies',
    'blues', 'hard rock', 'ambient', 'acoustic', 'experimental', 'female vocalist', 'guitar', 'Hip-Hop',
    '70s', 'party', 'country', 'easy listening', 'sexy', 'catchy', 'funk', 'electro', 'heavy metal',
    'Progressive rock', '60s', 'rnb', 'indie pop', 'sad', 'House', 'happy',
]
"""The 50 tags of the MSD networks."""

IMAGENET_MODELS = {
    "MobileNetV2": "mobilenet_v2",
    "ResNet50": "resnet50",
    "DenseNet121": "densenet",
}
"""ImageNet backbones, as ``keras.applications`` class name -> module with its ``preprocess_input``."""

LAYERS = {
    "musicnn": ("max_pool", "mean_pool", "penultimate", "taggram"),
    "vgg": ("pool3", "pool4", "pool5", "taggram"),
    "imagenet": ("avg_pool",),
}
"""Embedding layers of each family; the first is the default. musicnn's ``max_pool`` and ``mean_pool``
are the maximum and mean over time of its 753 front- and mid-end features; vgg's ``poolK`` are the
channel means over time and frequency of pooling layer K (128 values; ``pool5`` flattened, 256)."""

BACKBONES = (*MUSICNN_CHECKPOINTS, *IMAGENET_MODELS)


def family(name):
    """``"musicnn"``, ``"vgg"`` or ``"imagenet"`` for a backbone name; one-sentence error for unknown ones."""
    if name in IMAGENET_MODELS:
        return "imagenet"
    if name in MUSICNN_CHECKPOINTS:
        return "vgg" if name.endswith("_vgg") else "musicnn"
    raise AadError(f"Unknown backbone {name!r}; the backbones are {', '.join(BACKBONES)}.")


# ---------------------------------------------------------------------------
# Input: musicnn's log-mel and 3 s patches
# ---------------------------------------------------------------------------

def musicnn_input(y, sr=SR):
    """The log-mel musicnn was trained on: log10(1 + 10000 * mel power), 96 bands, n_fft 512, hop 256.

    Args:
        y (np.ndarray): Mono signal (n_samples,) at 16 kHz.
        sr (int): Its sample rate; must be 16000.

    Returns:
        np.ndarray: (n_frames, 96) float32, time first as musicnn expects.
    """
    import librosa

    if sr != SR:
        raise AadError(f"The backbones take 16 kHz audio but got {sr} Hz; load the clips with load_clips(folder, sr=16000).")
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=256, n_fft=512, n_mels=N_MELS).T
    # musicnn stored its training spectrograms in float16; rounding the same way keeps its input distribution.
    return np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)


def patches(spec, n_frames=PATCH_FRAMES, hop=None):
    """Cut a (n_frames_total, n_mels) spectrogram into patches; a short one is repeated to fill one.

    Repeating a short clip is what musicnn did with short training songs ("repeat-pad").

    Args:
        spec (np.ndarray): (n_frames_total, n_mels).
        n_frames (int): Frames per patch.
        hop (int | None): Frames between patch starts (None = n_frames, no overlap).

    Returns:
        np.ndarray: (n_patches, n_frames, n_mels).
    """
    if len(spec) == 0:
        raise AadError("The spectrogram has no frames; the clip is empty.")
    if len(spec) < n_frames:
        spec = np.concatenate([spec] * int(np.ceil(n_frames / len(spec))))[:n_frames]
    return np.swapaxes(features.patches(spec.T, n_frames, hop or n_frames), 1, 2)


# ---------------------------------------------------------------------------
# musicnn in Keras 3
# ---------------------------------------------------------------------------

def musicnn_checkpoint(name):
    """The checkpoint prefix of a musicnn model in the unpacked musicnn wheel, checked against its SHA-256.

    The wheel is fetched into the data cache on first use (29 MB, from PyPI's file host; see
    ``aadlib.REGISTRY["musicnn"]``) and unpacked there; its code is never imported.

    Args:
        name (str): A key of :data:`MUSICNN_CHECKPOINTS`.

    Returns:
        str: The checkpoint prefix (``.../musicnn/<name>/``) for ``tf.train`` readers.
    """
    family(name)
    folder = fetch("musicnn") / name
    for path, expected in zip((folder / ".data-00000-of-00001", folder / ".index"), MUSICNN_CHECKPOINTS[name]):
        if not path.is_file() or sha256(path) != expected:
            raise AadError(f"The musicnn checkpoint file {path} is missing or corrupt (SHA-256 differs); delete the folder {folder.parent} and run `aad fetch musicnn` to unpack it again.")
    return str(folder) + "/"


def _bn(name):
    # tf.compat.v1.layers.batch_normalization and Keras share epsilon 1e-3
    return layers.BatchNormalization(epsilon=1e-3, name=name)


def _musicnn_network(n_classes=50, midend_filters=64, backend_units=200):
    """musicnn (Pons & Serra 2019): timbral and temporal front-end, dense mid-end, global pooling back-end.

    Layer names are the checkpoint's variable scopes, so weights are set by name.
    Any number of frames works: every layer is convolutional until the pooling over time.
    """
    spec = keras.Input((None, N_MELS), name="log_mel")
    x = _bn("batch_normalization")(layers.Reshape((-1, N_MELS, 1))(spec))
    front = []
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)))(x)
    # timbral filters: 7 frames x 40 % / 70 % of the bands; temporal filters: 128 / 64 / 32 frames x 1 band
    blocks = [(padded, 204, (7, int(0.4 * N_MELS)), "valid"), (padded, 204, (7, int(0.7 * N_MELS)), "valid")]
    blocks += [(x, 51, (k, 1), "same") for k in (128, 64, 32)]
    for i, (inp, filters, kernel, padding) in enumerate(blocks):
        h = layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=f"conv2d{'_' + str(i) if i else ''}")(inp)
        h = _bn(f"batch_normalization_{i + 1}")(h)
        h = layers.MaxPooling2D((1, h.shape[2]))(h)  # max over frequency
        front.append(layers.Reshape((-1, filters))(h))
    front = layers.Concatenate(name="frontend")(front)  # (time, 561)
    mid = [front]
    h = front
    for i in range(3):
        c = layers.Conv1D(midend_filters, 7, activation="relu", name=f"conv2d_{5 + i}")(layers.ZeroPadding1D(3)(h))
        c = _bn(f"batch_normalization_{6 + i}")(c)
        h = c if i == 0 else layers.Add()([c, h])  # residual connections from the second layer on
        mid.append(h)
    mid = layers.Concatenate(name="midend")(mid)  # (time, 753)
    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(mid)
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(mid)
    # The back-end interleaves max and mean per feature (TF1 concatenated them on a new last axis).
    pooled = layers.Flatten()(layers.Concatenate()([layers.Reshape((-1, 1))(max_pool), layers.Reshape((-1, 1))(mean_pool)]))
    h = _bn("batch_normalization_9")(pooled)
    h = layers.Dense(backend_units, activation="relu", name="dense")(h)
    penultimate = _bn("batch_normalization_10")(h)
    taggram = layers.Activation("sigmoid", name="taggram")(layers.Dense(n_classes, name="dense_1")(penultimate))
    outputs = {"max_pool": max_pool, "mean_pool": mean_pool, "penultimate": penultimate, "taggram": taggram}
    return keras.Model(spec, outputs, name="musicnn")


def _vgg_network(pools, n_classes=50, filters=128):
    """musicnn's VGG-like baseline: five 3x3 conv + batch norm + max-pool blocks, a dense tagger."""
    spec = keras.Input((PATCH_FRAMES, N_MELS), name="log_mel")
    h = _bn("batch_normalization")(layers.Reshape((PATCH_FRAMES, N_MELS, 1))(spec))
    outputs = {}
    for i, (size, strides) in enumerate(pools, start=1):
        h = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{i}CNN")(h)
        h = _bn(f"batch_normalization_{i}")(h)
        h = layers.MaxPooling2D(size, strides, name=f"max_pool{i}")(h)
        outputs[f"pool{i}"] = layers.GlobalAveragePooling2D(name=f"pool{i}")(h)
    outputs["pool5"] = layers.Flatten(name="pool5")(h)
    outputs["taggram"] = layers.Activation("sigmoid", name="taggram")(layers.Dense(n_classes, name="dense")(outputs["pool5"]))
    return keras.Model(spec, {k: outputs[k] for k in LAYERS["vgg"]}, name="vgg")


def convert_musicnn(model, name):
    """Set a rebuilt network's weights from the musicnn checkpoint, matching layers by variable scope.

    Args:
        model (keras.Model): From :func:`musicnn_model` with ``pretrained=False``.
        name (str): The checkpoint (a key of :data:`MUSICNN_CHECKPOINTS`).

    Returns:
        keras.Model: The same model, with the checkpoint's weights.
    """
    import tensorflow as tf

    prefix = musicnn_checkpoint(name)
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    except Exception as error:
        raise AadError(f"The musicnn checkpoint {prefix} cannot be read ({type(error).__name__}); delete the folder {Path(prefix).parent} and run `aad fetch musicnn` to unpack it again.") from None
    for layer in model.layers:
        names = {"BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance")}.get(type(layer).__name__, ("kernel", "bias"))
        if not layer.weights:
            continue
        values = [reader.get_tensor(f"{layer.name}/{n}") for n in names]
        # TF1 wrote musicnn's mid-end 1-D convolutions as 2-D ones: (7, n_in, 1, n_out) -> (7, n_in, n_out)
        layer.set_weights([v.reshape(w.shape) for v, w in zip(values, layer.weights)])
    return model


def musicnn_model(name="MTT_musicnn", pretrained=True, random_state=SEED):
    """A musicnn network in Keras 3, with the checkpoint's weights (cached after the first conversion).

    Args:
        name (str): ``MTT_musicnn``, ``MSD_musicnn``, ``MTT_vgg`` or ``MSD_vgg``.
        pretrained (bool): False = the same architecture with Keras's random initial weights
            (the control that shows what pretraining buys).
        random_state (int): Seeds the random weights (``pretrained=False``).

    Returns:
        keras.Model: log-mel patches (batch, frames, 96) -> dict of the layers in :data:`LAYERS`.
    """
    kind = family(name)
    if kind == "imagenet":
        raise AadError(f"{name} is an ImageNet backbone; use imagenet_model({name!r}).")
    keras.utils.set_random_seed(random_state)
    model = _vgg_network(VGG_POOLS[name]) if kind == "vgg" else _musicnn_network()
    if not pretrained:
        return model
    cached = writable_cache() / "models" / f"musicnn-{MUSICNN_VERSION}-{name}.weights.h5"
    if cached.is_file():
        try:
            model.load_weights(cached)
            return model
        except Exception:  # a half-written or foreign file: convert again
            cached.unlink()
    convert_musicnn(model, name)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.stem}.{os.getpid()}.weights.h5")
    model.save_weights(partial)
    partial.replace(cached)
    return model


# ---------------------------------------------------------------------------
# ImageNet backbones
# ---------------------------------------------------------------------------

def imagenet_model(name="MobileNetV2", pretrained=True, input_shape=(N_MELS, PATCH_FRAMES, 3), random_state=SEED):
    """A ``keras.applications`` CNN without its classifier, averaged over its last feature map.

    Args:
        name (str): A key of :data:`IMAGENET_MODELS`.
        pretrained (bool): ImageNet weights (downloaded on first use into ``~/.keras/models``), or random ones.
        input_shape (tuple): (height, width, 3); the default is one musicnn patch, bands x frames.
        random_state (int): Seeds the random weights (``pretrained=False``).

    Returns:
        keras.Model: images (batch, height, width, 3) -> {"avg_pool": (batch, n_channels)}.
    """
    if family(name) != "imagenet":
        raise AadError(f"{name} is a musicnn backbone; use musicnn_model({name!r}).")
    keras.utils.set_random_seed(random_state)
    try:
        with warnings.catch_warnings():
            # MobileNetV2 warns that a non-square input gets the 224 x 224 weights: convolution weights fit any size.
            warnings.filterwarnings("ignore", message=".*non-square")
            net = getattr(keras.applications, name)(include_top=False, weights="imagenet" if pretrained else None, input_shape=input_shape, pooling="avg")
    except Exception as error:
        raise AadError(
            f"The ImageNet weights of {name} could not be downloaded ({type(error).__name__}); they need internet "
            "once (then ~/.keras/models caches them), or use a musicnn backbone such as 'MTT_musicnn', which works offline."
        ) from None
    return keras.Model(net.input, {"avg_pool": net.output}, name=name)


def as_image(patch_batch, name):
    """Log-mel patches as ImageNet images: scaled to 0-255 per patch, bands upwards, copied to 3 channels.

    Args:
        patch_batch (np.ndarray): (batch, frames, 96) log-mel patches.
        name (str): The ImageNet backbone, whose ``preprocess_input`` is applied.

    Returns:
        np.ndarray: (batch, 96, frames, 3) float32.
    """
    x = np.swapaxes(patch_batch, 1, 2)[:, ::-1]  # (batch, bands, frames), low bands at the bottom
    low = x.min(axis=(1, 2), keepdims=True)
    span = np.maximum(x.max(axis=(1, 2), keepdims=True) - low, 1e-9)
    grey = 255 * (x - low) / span
    module = getattr(keras.applications, IMAGENET_MODELS[name])
    return module.preprocess_input(np.repeat(grey[..., None], 3, axis=-1).astype(np.float32))


# ---------------------------------------------------------------------------
# One interface for all backbones
# ---------------------------------------------------------------------------

class Backbone:
    """A frozen pretrained (or randomly initialised) network that turns clips into embeddings.

    A clip is cut into 3 s patches (:func:`patches`; shorter clips are repeated to fill one),
    every patch goes through the network, and the clip's embedding is the mean over its patches
    of the chosen layer.

    Args:
        name (str): One of :data:`BACKBONES`.
        layer (str | None): One of the family's :data:`LAYERS` (None = the first).
        pretrained (bool): False = same architecture, random weights.
        random_state (int): Seeds the random weights.
        hop (int | None): Frames between patches (None = no overlap).

    Attributes:
        model (keras.Model): The network; ``model.count_params()`` says its size.

    Notebook: 06_transfer_learning.
    """

    def __init__(self, name="MTT_musicnn", layer=None, pretrained=True, random_state=SEED, hop=None):
        self.name, self.family = name, family(name)
        self.layer = layer or LAYERS[self.family][0]
        if self.layer not in LAYERS[self.family]:
            raise AadError(f"{name} has no layer {self.layer!r}; its layers are {', '.join(LAYERS[self.family])}.")
        self.pretrained, self.hop = pretrained, hop
        if self.family == "imagenet":
            self.model = imagenet_model(name, pretrained, random_state=random_state)
        else:
            self.model = musicnn_model(name, pretrained, random_state=random_state)

    def __repr__(self):
        return f"Backbone({self.name!r}, layer={self.layer!r}, pretrained={self.pretrained})"

    def embed_all(self, signals, sr=SR, batch_size=32):
        """Every embedding layer of the backbone for every clip, in one pass through the network.

        Args:
            signals (np.ndarray | list): (n_clips, n_samples) or a list of 1-D signals, at 16 kHz.
            sr (int): Sample rate of the signals (must be 16000).
            batch_size (int): Patches per forward pass.

        Returns:
            dict: layer name -> (n_clips, dim) float32, each clip the mean over its patches.
        """
        per_clip = [patches(musicnn_input(y, sr), hop=self.hop) for y in signals]
        batch = np.concatenate(per_clip)
        if self.family == "imagenet":
            batch = as_image(batch, self.name)
        parts = [self.model(batch[i : i + batch_size], training=False) for i in range(0, len(batch), batch_size)]
        bounds = np.cumsum([0] + [len(p) for p in per_clip])
        embeddings = {}
        for layer in self.model.output:
            flat = np.concatenate([keras.ops.convert_to_numpy(p[layer]) for p in parts]).astype(np.float32)
            embeddings[layer] = np.stack([flat[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
        return embeddings

    def embed(self, signals, sr=SR, batch_size=32):
        """One embedding per clip from the chosen layer: (n_clips, dim) float32 (see :meth:`embed_all`)."""
        return self.embed_all(signals, sr, batch_size)[self.layer]
