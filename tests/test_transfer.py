"""aadlib.transfer: the Keras rebuild of musicnn agrees with the checkpoint's own TF1 graph; ImageNet backbones
without their weights; one-sentence errors."""

import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import aadlib
from aadlib import AadError, transfer

# The checkpoint's graph (its .meta file): tensors that hold each embedding layer and the tags.
REFERENCE_TENSORS = {
    "musicnn": {
        "taggram": "model/Sigmoid",
        "max_pool": "model/Max",
        "mean_pool": "model/moments/Squeeze",
        "penultimate": "model/batch_normalization_10/batchnorm/add_1",
    },
    "vgg": {"taggram": "model/Sigmoid", "pool5": "model/Flatten/flatten/Reshape", "pool3": "model/max_pooling2d_2/MaxPool"},
}


def reference_outputs(name, x):
    """Run musicnn's own TF1 graph with the checkpoint's values, in inference mode.

    The .meta graph holds the training ops too; only the inference subgraph is imported, its
    variables replaced by constants read from the checkpoint.
    """
    from tensorflow.core.protobuf import meta_graph_pb2

    prefix = transfer.musicnn_checkpoint(name)
    meta = meta_graph_pb2.MetaGraphDef()
    with open(prefix + ".meta", "rb") as f:
        meta.ParseFromString(f.read())
    wanted = REFERENCE_TENSORS[transfer.family(name)]
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, list(wanted.values()))
    for node in graph_def.node:
        node.attr.pop("_output_shapes", None)  # stale shapes from TF 1.x that TF 2 refuses
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    graph = tf.Graph()
    with graph.as_default():
        values = {f"{n.name}:0": tf.constant(reader.get_tensor(n.name)) for n in graph_def.node if n.op == "VariableV2"}
        tf.compat.v1.import_graph_def(graph_def, input_map=values, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            out = session.run({k: f"{v}:0" for k, v in wanted.items()}, {"model/Placeholder:0": x, "model/Placeholder_2:0": False})
    if "pool3" in out:
        out["pool3"] = out["pool3"].mean(axis=(1, 2))  # our pool3 embedding: channel means over time and frequency
    return {k: v.reshape(len(x), -1) for k, v in out.items()}


@pytest.fixture(scope="session")
def musicnn_wheel():
    """The musicnn wheel and its unpacked folder in the data cache (fetched once, from PyPI's file host)."""
    folder = aadlib.fetch("musicnn")
    return folder.parent / aadlib.REGISTRY["musicnn"].filename, folder


@pytest.fixture
def cache(tmp_path, monkeypatch, musicnn_wheel):
    """An empty data cache, but for links to the musicnn wheel and its unpacked folder."""
    for path in musicnn_wheel:
        (tmp_path / path.name).symlink_to(path)
    monkeypatch.setenv("AAD_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def log_mel_batch():
    rng = np.random.default_rng(0)
    return (3 * rng.random((3, transfer.PATCH_FRAMES, transfer.N_MELS))).astype(np.float32)


@pytest.mark.parametrize("name", list(transfer.MUSICNN_CHECKPOINTS))
def test_the_keras_rebuild_agrees_with_the_checkpoint_graph(name, cache, log_mel_batch):
    model = transfer.musicnn_model(name)
    ours = model(log_mel_batch, training=False)
    for layer, theirs in reference_outputs(name, log_mel_batch).items():
        got = keras.ops.convert_to_numpy(ours[layer]).reshape(theirs.shape)
        np.testing.assert_allclose(got, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max(), err_msg=f"{name} {layer}")
    assert (cache / "models" / f"musicnn-{transfer.MUSICNN_VERSION}-{name}.weights.h5").is_file()


def test_msd_vgg_pools_unlike_mtt_vgg():
    # musicnn's models.py builds both like MTT_vgg; the checkpoint graphs differ (first two poolings).
    assert transfer.VGG_POOLS["MSD_vgg"][:2] != transfer.VGG_POOLS["MTT_vgg"][:2]
    assert transfer.VGG_POOLS["MSD_vgg"][2:] == transfer.VGG_POOLS["MTT_vgg"][2:]


def test_the_converted_weights_are_cached_and_reused(cache, log_mel_batch, monkeypatch):
    first = transfer.musicnn_model("MTT_musicnn")(log_mel_batch)["max_pool"]

    def no_conversion(*args):
        raise AssertionError("the cached weights should have been used")

    monkeypatch.setattr(transfer, "convert_musicnn", no_conversion)
    again = transfer.musicnn_model("MTT_musicnn")(log_mel_batch)["max_pool"]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first), keras.ops.convert_to_numpy(again))


def test_a_broken_weights_cache_is_converted_again(cache, log_mel_batch):
    good = transfer.musicnn_model("MTT_vgg")(log_mel_batch)["pool5"]
    cached = cache / "models" / f"musicnn-{transfer.MUSICNN_VERSION}-MTT_vgg.weights.h5"
    cached.write_bytes(b"not an h5 file")
    again = transfer.musicnn_model("MTT_vgg")(log_mel_batch)["pool5"]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(good), keras.ops.convert_to_numpy(again))


def test_random_backbones_are_seeded(log_mel_batch):
    a, b, c = (transfer.musicnn_model("MTT_musicnn", pretrained=False, random_state=s)(log_mel_batch)["max_pool"] for s in (0, 0, 1))
    a, b, c = (keras.ops.convert_to_numpy(v) for v in (a, b, c))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_musicnn_accepts_any_number_of_frames():
    model = transfer.musicnn_model("MTT_musicnn", pretrained=False)
    out = model(np.zeros((2, 60, transfer.N_MELS), np.float32))
    assert out["max_pool"].shape == (2, 753) and out["penultimate"].shape == (2, 200) and out["taggram"].shape == (2, 50)


def test_musicnn_input_and_patches():
    y = np.random.default_rng(1).standard_normal(40000).astype(np.float32)  # 2.5 s at 16 kHz
    spec = transfer.musicnn_input(y)
    assert spec.shape == (157, 96) and spec.min() >= 0  # log10(1 + x) of a power is never negative
    short = transfer.patches(spec)
    assert short.shape == (1, 187, 96)
    np.testing.assert_array_equal(short[0, 157:], spec[:30])  # repeated from the start
    long = np.arange(400 * 96, dtype=np.float32).reshape(400, 96)
    assert transfer.patches(long).shape == (2, 187, 96)
    assert transfer.patches(long, hop=100).shape == (3, 187, 96)
    with pytest.raises(AadError, match="16 kHz.*sr=16000"):
        transfer.musicnn_input(y, sr=44100)


def test_a_clip_embedding_is_the_mean_of_its_patch_embeddings():
    backbone = transfer.Backbone("MTT_musicnn", pretrained=False)
    rng = np.random.default_rng(2)
    first, second = (0.1 * rng.standard_normal(187 * 256)).astype(np.float32), (0.3 * rng.standard_normal(187 * 256)).astype(np.float32)
    spec = transfer.musicnn_input(np.concatenate([first, second]))
    both = transfer.patches(spec)
    assert len(both) == 2
    each = keras.ops.convert_to_numpy(backbone.model(both)["max_pool"])
    np.testing.assert_allclose(backbone.embed([np.concatenate([first, second])])[0], each.mean(axis=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, width", [("MobileNetV2", 1280), ("ResNet50", 2048), ("DenseNet121", 1024)])
def test_imagenet_backbones_without_weights(name, width):
    backbone = transfer.Backbone(name, pretrained=False)
    signals = np.random.default_rng(3).standard_normal((3, 40000)).astype(np.float32) * 0.1
    one_by_one = backbone.embed(signals, batch_size=1)
    assert one_by_one.shape == (3, width)
    np.testing.assert_allclose(backbone.embed(signals, batch_size=3), one_by_one, rtol=1e-4, atol=1e-5)


def test_imagenet_embedding_is_the_average_of_the_last_feature_map():
    backbone = transfer.Backbone("MobileNetV2", pretrained=False)
    images = transfer.as_image(np.random.default_rng(4).random((2, 187, 96)).astype(np.float32), "MobileNetV2")
    assert images.shape == (2, 96, 187, 3) and images.min() >= -1 and images.max() <= 1
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # a grey image in three channels
    last_map = keras.Model(backbone.model.input, backbone.model.get_layer("out_relu").output)(images)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone.model(images)["avg_pool"]), keras.ops.convert_to_numpy(keras.ops.mean(last_map, axis=(1, 2))), rtol=1e-5, atol=1e-6)


def test_no_internet_for_imagenet_weights_is_one_sentence(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    with pytest.raises(AadError, match="could not be downloaded.*MTT_musicnn.*offline"):
        transfer.Backbone("ResNet50")


def test_unknown_backbone_and_layer_name_the_ones_that_exist():
    with pytest.raises(AadError, match="Unknown backbone 'VGGish'.*MTT_musicnn.*DenseNet121"):
        transfer.Backbone("VGGish")
    with pytest.raises(AadError, match="no layer 'avg_pool'.*max_pool, mean_pool, penultimate, taggram"):
        transfer.Backbone("MTT_musicnn", layer="avg_pool", pretrained=False)


def test_without_network_the_musicnn_weights_name_the_file_and_its_url(tmp_path, monkeypatch):
    import pooch

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setenv("AAD_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", offline)
    entry = aadlib.REGISTRY["musicnn"]
    with pytest.raises(AadError, match=f"Could not download {re.escape(entry.filename)}.*{re.escape(entry.url)}.*{re.escape(str(tmp_path / entry.filename))}"):
        transfer.musicnn_model("MTT_musicnn")


def test_a_corrupt_checkpoint_says_to_unpack_it_again(tmp_path, monkeypatch, musicnn_wheel):
    wheel, folder = musicnn_wheel
    (tmp_path / wheel.name).symlink_to(wheel)
    shutil.copytree(folder, tmp_path / folder.name)
    data = tmp_path / folder.name / "MTT_musicnn" / ".data-00000-of-00001"
    blob = bytearray(data.read_bytes())
    blob[1000] ^= 0xFF
    data.write_bytes(bytes(blob))
    monkeypatch.setenv("AAD_DATA_DIR", str(tmp_path))
    with pytest.raises(AadError, match=f"corrupt.*delete the folder {re.escape(str(tmp_path / folder.name))}.*aad fetch musicnn"):
        transfer.musicnn_model("MTT_musicnn")
