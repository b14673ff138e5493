"""The `aad benchmark` command on small generated folders in every layout."""

import numpy as np
import pandas as pd
import pytest
import soundfile

from aadlib import LOF, AadError, auc, benchmark, methods, pauc, store
from aadlib.__main__ import main
from conftest import tone, write

SR = 16000


def clip(anomalous, seed, whine=0.2, noise=0.02):
    """2 s of noise with a click every 0.5 s; an anomaly adds a 1 kHz whine (loud by default)."""
    rng = np.random.default_rng(seed)
    signal = noise * rng.standard_normal(2 * SR)
    for start in (rng.integers(0, SR // 2) + np.arange(4) * SR // 2):
        signal[start : start + 80] += 0.5 * rng.standard_normal(80)
    if anomalous:
        signal += whine * np.sin(2 * np.pi * 1000 * np.arange(2 * SR) / SR)
    return signal.astype(np.float32)


def names(layout, machine):
    """(file name, anomalous) of 10 training and 4 + 4 test clips of one machine, in a layout."""
    train = range(10)
    test = [(i, False) for i in range(4)] + [(i, True) for i in range(4, 8)]
    if layout == "anomaly_mini":
        return [(f"train_{i}.wav", False) for i in train] + [(f"test_{'anomaly' if a else 'normal'}_{i}.wav", a) for i, a in test]
    if layout == "MIMII":  # the baseline split puts the first 4 normal clips in the test set
        return [(f"valve/{machine}/normal/{i:08d}.wav", False) for i in range(14)] + [(f"valve/{machine}/abnormal/{i:08d}.wav", True) for i in range(4)]
    if layout == "DCASE 2020":
        return [(f"valve/train/normal_{machine}_{i:08d}.wav", False) for i in train] + [
            (f"valve/test/{'anomaly' if a else 'normal'}_{machine}_{i:08d}.wav", a) for i, a in test]
    return [(f"fan/train/{machine}_source_train_normal_{i:04d}.wav", False) for i in train] + [
        (f"fan/test/{machine}_source_test_{'anomaly' if a else 'normal'}_{i:04d}.wav", a) for i, a in test]


MACHINES = {"anomaly_mini": [""], "MIMII": ["id_00", "id_02"], "DCASE 2020": ["id_00", "id_02"], "DCASE 2021+": ["section_00", "section_01"]}


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    """The default feature cache lives in the user cache; keep the tests' out of the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return tmp_path / "user-cache"


@pytest.fixture
def folder(tmp_path):
    def build(layout):
        root = tmp_path / layout.replace(" ", "_").replace("+", "plus")
        for m, machine in enumerate(MACHINES[layout]):
            for k, (name, anomalous) in enumerate(names(layout, machine)):
                path = root / name
                path.parent.mkdir(parents=True, exist_ok=True)
                soundfile.write(path, clip(anomalous, seed=100 * m + k), SR, subtype="PCM_16")
        return root

    return build


@pytest.mark.parametrize("layout", list(MACHINES))
def test_every_layout_gives_score_files_and_a_results_table(folder, tmp_path, layout, capsys):
    out = tmp_path / "out"
    assert main(["benchmark", str(folder(layout)), "--method", "lof", "--method", "gmm", "--out", str(out), "--jobs", "1"]) == 0
    table = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert {"machine_type", "machine", "method", "auc", "pauc", "ap", "auc_std", "fit_s", "score_s", "error"} <= set(table.columns)
    per_machine = table[~table.machine_type.isin(benchmark.SUMMARY_ROWS) & (table.domain == "")]
    assert len(per_machine) == 2 * len(MACHINES[layout]) and (per_machine.error == "").all()
    assert (per_machine.auc.astype(float) >= 0.9).all()  # a loud whine is an obvious anomaly
    low, high = per_machine.auc_low.astype(float), per_machine.auc_high.astype(float)  # one seed: the interval of its AUC
    assert ((low <= per_machine.auc.astype(float)) & (per_machine.auc.astype(float) <= high)).all()
    assert set(table.machine_type) >= {"mean", "harmonic mean"}
    # DCASE 2020 gets its edition's ranking score; later editions need test clips of both domains, which these lack
    official = table[table.machine_type == "official score"]
    assert list(official.machine) == (["DCASE 2020"] * 2 if layout == "DCASE 2020" else [])
    scores = sorted(out.glob("anomaly_score_*lof.csv"))
    assert len(scores) == len(MACHINES[layout])
    first = pd.read_csv(scores[0], header=None, names=["file", "score"])
    assert len(first) == 8 and first.file.str.endswith(".wav").all() and np.isfinite(first.score).all()
    assert "| machine type | machine | domain | method | AUC |" in (out / "results.md").read_text()
    assert "| lof |" in capsys.readouterr().out


def test_a_trained_method_from_each_chapter_family(folder, tmp_path):
    table = benchmark.run(folder("anomaly_mini"), ["dense_ae", "lstm_ae"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    rows = table[table.machine_type == ""]  # anomaly_mini has no machine type
    assert list(rows.method) == ["dense_ae", "lstm_ae"] and (rows.error == "").all()
    assert (rows.auc >= 0.9).all()


def test_unknown_method_lists_the_known_ones(folder, capsys):
    assert main(["benchmark", str(folder("anomaly_mini")), "--method", "svm"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Unknown method 'svm'" in error
    assert all(name in error for name in benchmark.METHODS)


def test_folder_in_no_layout_says_what_names_look_like(tmp_path, capsys):
    soundfile.write(tmp_path / "recording.wav", clip(False, 0), SR)
    assert main(["benchmark", str(tmp_path), "--method", "lof"]) == 1
    error = capsys.readouterr().err
    assert "fits none of the known layouts" in error and "train_0.wav" in error


def test_empty_folder(tmp_path, capsys):
    assert main(["benchmark", str(tmp_path), "--method", "lof"]) == 1
    assert "has no .wav files" in capsys.readouterr().err


def test_bad_clips_are_skipped_with_one_warning_or_stop_the_run_keeping_the_cache(folder, tmp_path):
    root = folder("anomaly_mini")
    (root / "train_5.wav").write_bytes(b"")  # an empty file
    (root / "train_6.wav").write_bytes(b"RIFF....WAVEjunk")  # a corrupt one
    with pytest.warns(UserWarning, match="skipped 2 unreadable clip"):
        table = benchmark.run(root, ["lof"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    assert table.auc.iloc[0] >= 0.9
    cache = tmp_path / "cache"
    with pytest.raises(AadError, match="train_5.wav.*features of the clips before it are cached"):
        benchmark.run(root, ["lof"], out_dir=tmp_path / "out2", n_jobs=1, cache_dir=cache, on_bad="stop", progress=False)
    assert len(list(cache.glob("*.npy"))) >= 5  # test clips and train_0 .. train_4 come first by name


def test_second_run_reads_the_cache(folder, tmp_path, monkeypatch, user_cache):
    root = folder("DCASE 2020")
    first = benchmark.run(root, ["lof"], out_dir=tmp_path / "a", n_jobs=1, progress=False)

    def no_extraction(*args, **kwargs):
        raise AssertionError("features were recomputed")

    monkeypatch.setattr(store, "extract_file", no_extraction)
    second = benchmark.run(root, ["lof"], out_dir=tmp_path / "b", n_jobs=1, progress=False)
    timings = ["fit_s", "fit_s_std", "score_s", "score_s_std"]
    pd.testing.assert_frame_equal(first.drop(columns=timings), second.drop(columns=timings))
    assert len(list((user_cache / "aadlib" / "features").glob("*.npy"))) == 36  # 2 machines x 18 clips, never in the data folder
    assert not list(root.rglob("*.npy"))


def test_parallel_workers_give_the_same_features(folder, tmp_path):
    root = folder("anomaly_mini")
    files = ["train_0.wav", "train_1.wav", "test_anomaly_4.wav"]
    one, _ = benchmark.features_of(root, files, "clip_summary", n_jobs=1, cache_dir=tmp_path / "c1", progress=False)
    two, _ = benchmark.features_of(root, files, "clip_summary", n_jobs=2, cache_dir=tmp_path / "c2", progress=False)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-6)  # worker processes may sum in another order (last bit)
    assert one[0].shape == (256,)


def test_features_are_read_one_machine_at_a_time(folder, tmp_path, monkeypatch):
    root = folder("DCASE 2020")
    files = sorted(str(path.relative_to(root)) for path in root.rglob("*.wav"))
    cached, _ = benchmark.features_of(root, files, "clip_summary", n_jobs=1, progress=False, load=False)
    values, _ = benchmark.features_of(root, files, "clip_summary", n_jobs=1, progress=False)
    np.testing.assert_array_equal(np.load(cached[0]), values[0])
    machine_of = {str(path): "id_00" if "id_00" in name else "id_02" for path, name in zip(cached, files)}
    reads, load = [], np.load

    def spy(path, *args, **kwargs):
        reads.append(machine_of.get(str(path)))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(benchmark.np, "load", spy)
    benchmark.run(root, ["lof"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    # per machine: every clip's size (its file's header: one row per clip needs one size), the shape of the training and
    # of the test files, 18 clips, one example; machine after machine
    assert reads == ["id_00"] * 39 + ["id_02"] * 39


def test_a_method_failing_on_one_machine_keeps_the_other_results(folder, tmp_path, monkeypatch):
    calls = []

    class FailsOnFirstMachine(LOF):
        def fit(self, X):
            calls.append(1)
            if len(calls) == 1:
                raise np.linalg.LinAlgError("singular matrix")
            return super().fit(X)

    monkeypatch.setitem(methods.DETECTORS, "fragile", FailsOnFirstMachine)
    monkeypatch.setitem(benchmark.METHODS, "fragile", methods.Method("clip_summary", "fragile"))
    table = benchmark.run(folder("DCASE 2020"), ["fragile"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    machines = table[table.machine_type == "valve"].set_index("machine")
    assert "LinAlgError: singular matrix" in machines.loc["id_00", "error"]
    assert machines.loc["id_02", "error"] == "" and machines.loc["id_02", "auc"] >= 0.9
    assert (tmp_path / "out" / "anomaly_score_valve_id_02_fragile.csv").exists()


def test_harmonic_mean():
    assert benchmark.harmonic_mean([0.5, 1.0]) == pytest.approx(2 / 3)
    assert benchmark.harmonic_mean([0.0, 1.0]) == 0.0


def test_score_file_names_follow_dcase():
    assert benchmark.score_file_name("valve", "id_00", "lof") == "anomaly_score_valve_id_00_lof.csv"
    assert benchmark.score_file_name("fan", "section_01", "dense_ae") == "anomaly_score_fan_section_01_dense_ae.csv"
    assert benchmark.score_file_name("", "", "lof") == "anomaly_score_lof.csv"


def test_a_transfer_method_embeds_with_a_pretrained_backbone(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("AAD_DATA_DIR", str(tmp_path / "data"))  # where the converted weights are cached
    table = benchmark.run(folder("anomaly_mini"), ["transfer:MTT_musicnn"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    row = table[table.machine_type == ""].iloc[0]
    assert row.error == "" and row.auc >= 0.9
    assert (tmp_path / "data" / "models" / "musicnn-0.1.0-MTT_musicnn.weights.h5").is_file()


def test_the_offline_backbones_are_those_of_aadlib_transfer():
    from aadlib import transfer

    assert benchmark.MUSICNN_BACKBONES == tuple(transfer.MUSICNN_CHECKPOINTS)


@pytest.mark.parametrize("test_folder", ["test", "{domain}_test"])
def test_dcase_domains_are_scored_one_by_one(tmp_path, test_folder):
    """Each domain gets its AUC (2021, test clips in source_test/ and target_test/: on its own test clips; 2022
    on, one test/ folder: on its normal clips and all anomalous ones); the means are per domain."""
    root = tmp_path / "dcase2021"
    files = [(f"fan/train/section_00_source_train_normal_{i:04d}.wav", False) for i in range(10)]
    files += [(f"fan/{test_folder.format(domain=domain)}/section_00_{domain}_test_{'anomaly' if a else 'normal'}_{i:04d}.wav", a)
              for domain in ("source", "target") for i, a in enumerate([False] * 3 + [True] * 3)]
    write_clips(root, files)
    table = benchmark.run(root, ["lof"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    machine = table[table.machine == "section_00"].set_index("domain")
    assert set(machine.index) == {"", "source", "target"} and (machine.auc >= 0.9).all()
    assert np.isnan(machine.fit_s["source"]) and machine.fit_s[""] >= 0
    means = table[table.machine_type == "harmonic mean"].set_index("domain")
    assert set(means.index) == {"", "source", "target"}
    assert means.auc["target"] == machine.auc["target"]  # one section: its own value
    scores = pd.read_csv(tmp_path / "out" / "anomaly_score_fan_section_00_lof.csv", header=None, names=["file", "score"])
    assert len(scores) == 12
    y = scores.file.str.contains("anomaly").to_numpy().astype(int)
    target = scores.file.str.contains("target").to_numpy()
    part = target if test_folder != "test" else target | (y == 1)
    assert machine.auc["target"] == pytest.approx(auc(y[part], scores.score[part]))


def write_clips(root, files):
    """Write (name, anomalous[, keywords of clip]) clips below root, each with its own seed; returns root."""
    for k, (name, anomalous, *options) in enumerate(files):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(root / name, clip(anomalous, seed=k, **(options[0] if options else {})), SR, subtype="PCM_16")
    return root


TEST_LABELS = [False] * 4 + [True] * 4
WHINES = [0.2, 0.01, 0.002, 0.001]
"""The anomalies' whines, loud to faint: the faint ones hide among the normal clips, so AUCs fall below 1."""


def dcase2020(root, labelled):
    """Two valve machines of a DCASE 2020 set: 10 training clips each, 8 test clips named with their label
    (development set) or without (evaluation set); the same audio either way."""
    files = []
    for machine in ("id_05", "id_06"):
        files += [(f"valve/train/normal_{machine}_{i:08d}.wav", False) for i in range(10)]
        files += [(f"valve/test/{('anomaly_' if a else 'normal_') if labelled else ''}{machine}_{i:08d}.wav", a, {"whine": WHINES[i % 4]})
                  for i, a in enumerate(TEST_LABELS)]
    return write_clips(root, files)


def test_an_evaluation_set_is_scored_without_labels(tmp_path, capsys):
    root = dcase2020(tmp_path / "eval", labelled=False)
    out = tmp_path / "out"
    assert main(["benchmark", str(root), "--method", "lof", "--out", str(out), "--jobs", "1"]) == 0
    table = pd.read_csv(out / "results.csv", keep_default_na=False)
    machines = table[table.machine_type == "valve"]
    assert list(machines.machine) == ["id_05", "id_06"] and (machines.error == "").all()
    assert (machines.auc == "").all() and (machines.fit_s.astype(float) > 0).all()  # scored, nothing to measure
    assert set(table.machine_type) == {"valve"}  # no means, no official score without labels
    scores = pd.read_csv(out / "anomaly_score_valve_id_05_lof.csv", header=None, names=["file", "score"])
    assert list(scores.file) == [f"id_05_{i:08d}.wav" for i in range(8)] and np.isfinite(scores.score).all()
    assert "| valve | id_05 |  | lof |  |  |  |" in capsys.readouterr().out


def test_dcase2020_ground_truth_gives_the_scores_of_the_labelled_set_and_the_official_score(tmp_path):
    """eval_data_list.csv as DCASE published it (machine type lines, then file, labelled name, label)."""
    dev = benchmark.run(dcase2020(tmp_path / "dev", labelled=True), ["lof"], out_dir=tmp_path / "dev_out", n_jobs=1, progress=False)
    lines = ["valve"] + [f"{m}_{i:08d}.wav,{'anomaly' if a else 'normal'}_{m}_{i:08d}.wav,{int(a)}"
                         for m in ("id_05", "id_06") for i, a in enumerate(TEST_LABELS)]
    truth = tmp_path / "eval_data_list.csv"
    truth.write_text("\n".join(["ToyCar", "id_01_00000000.wav,normal_id_01_00000000.wav,0", *lines]) + "\n")
    table = benchmark.run(dcase2020(tmp_path / "eval", labelled=False), ["lof"], out_dir=tmp_path / "out", n_jobs=1, progress=False,
                          ground_truth=truth)
    columns = ["machine_type", "machine", "domain", "method", "auc", "pauc", "ap"]
    pd.testing.assert_frame_equal(table[columns], dev[columns])
    official = table.set_index("machine_type").loc["official score"]
    machines = table[table.machine_type == "valve"]
    assert official.machine == "DCASE 2020"
    assert official.auc == pytest.approx(machines.auc.mean()) and official.pauc == pytest.approx(machines.pauc.mean())
    assert official.score == pytest.approx((official.auc + official.pauc) / 2)
    assert "| score |" in (tmp_path / "out" / "results.md").read_text()


def dcase_eval(root, edition):
    """An evaluation set of one fan section as DCASE 2021 (source_test/, target_test/) or 2022 on (test/)
    published it, and its ground truth as the evaluators hold it; returns (folder, ground truth folder, truth)
    with truth: file name -> (anomalous, domain)."""
    section = "section_03" if edition == "DCASE 2021" else "section_00"
    files = [(f"fan/train/{section}_source_train_normal_{i:04d}.wav", False) for i in range(10)]
    files += [(f"fan/train/{section}_target_train_normal_{i:04d}.wav", False) for i in range(10, 12)]
    truth = {}
    for d, domain in enumerate(("source", "target")):  # the target domain is noisier: its normal clips look odd
        for i, a in enumerate([False, True, False, True, True, False, False, True]):
            name = f"{section}_{domain}_test_{i:04d}.wav" if edition == "DCASE 2021" else f"{section}_{8 * d + i:04d}.wav"
            truth[name] = (a, domain)
            files.append((f"fan/{domain + '_test' if edition == 'DCASE 2021' else 'test'}/{name}", a,
                          {"whine": WHINES[i // 2], "noise": 0.02 if domain == "source" else 0.03}))
    write_clips(root / "eval", files)
    gt = root / "evaluator"
    for kind, column in (("data", 0), ("domain", 1)):
        if edition == "DCASE 2021" and kind == "domain":
            continue
        for domain in (("source", "target") if edition == "DCASE 2021" else ("",)):
            test = f"{domain}_test" if domain else "test"
            rows = [f"{name},{int(value[column] if kind == 'data' else value[1] == 'target')}" for name, value in truth.items()
                    if not domain or value[1] == domain]
            (gt / f"ground_truth_{kind}").mkdir(parents=True, exist_ok=True)
            (gt / f"ground_truth_{kind}" / f"ground_truth_fan_{section}_{test}.csv").write_text("\n".join(rows) + "\n")
    (gt / "ground_truth_attributes").mkdir()  # renames for the attribute analysis: not a ground truth, skipped
    (gt / "ground_truth_attributes" / f"ground_truth_fan_{section}_test.csv").write_text("noAttribute,section_00_0000\n")
    return root / "eval", gt, truth


def test_dcase2023_evaluation_set_with_ground_truth_gives_submission_files_and_the_official_score(tmp_path):
    data, gt, truth = dcase_eval(tmp_path, "DCASE 2022+")
    out = tmp_path / "out"
    assert main(["-q", "benchmark", str(data), "--method", "lof", "--out", str(out), "--jobs", "1",
                 "--ground-truth", str(gt), "--dcase-submission"]) == 0
    scores = pd.read_csv(out / "lof" / "anomaly_score_fan_section_00_test.csv", header=None, names=["file", "score"])
    decisions = pd.read_csv(out / "lof" / "decision_result_fan_section_00_test.csv", header=None, names=["file", "decision"])
    assert sorted(scores.file) == sorted(truth) and list(decisions.file) == list(scores.file)
    assert set(decisions.decision) <= {0, 1}  # one threshold: every clip called anomalous scores above every other
    assert scores.score[decisions.decision == 1].min() > scores.score[decisions.decision == 0].max()
    assert not list(out.glob("anomaly_score_*"))
    y = np.array([truth[f][0] for f in scores.file], int)
    domain = np.array([truth[f][1] for f in scores.file])
    table = pd.read_csv(out / "results.csv", keep_default_na=False).set_index(["machine_type", "domain"])
    for d in ("source", "target"):  # a domain's normal clips and every anomalous clip, as the 2022-2024 evaluators do
        part = (domain == d) | (y == 1)
        assert float(table.auc["fan", d]) == pytest.approx(auc(y[part], scores.score[part]))
    target = domain == "target"  # 2021's AUC of the noisier target domain, on its own clips, would differ
    assert float(table.auc["fan", "target"]) != pytest.approx(auc(y[target], scores.score[target]))
    assert float(table.auc["fan", "target"]) < float(table.auc["fan", "source"])
    assert float(table.pauc["fan", ""]) == pytest.approx(pauc(y, scores.score))
    components = [float(table.auc["fan", "source"]), float(table.auc["fan", "target"]), float(table.pauc["fan", ""])]
    official = table.loc[("official score", "")]
    assert official.machine == "DCASE 2022+" and float(official.score) == pytest.approx(benchmark.harmonic_mean(components))


def test_dcase2021_submission_has_a_file_per_domain_and_its_official_score(tmp_path):
    data, gt, truth = dcase_eval(tmp_path, "DCASE 2021")
    table = benchmark.run(data, ["lof"], out_dir=tmp_path / "out", n_jobs=1, progress=False, ground_truth=gt, dcase_submission=True)
    for domain in ("source", "target"):
        for kind in ("anomaly_score", "decision_result"):
            written = pd.read_csv(tmp_path / "out" / "lof" / f"{kind}_fan_section_03_{domain}_test.csv", header=None)
            assert sorted(written[0]) == sorted(f for f in truth if truth[f][1] == domain)
    rows = table[table.machine_type == "fan"].set_index("domain")
    components = [*rows.auc[["source", "target"]], *rows.pauc[["source", "target"]]]
    official = table.set_index("machine_type").loc["official score"]
    assert official.machine == "DCASE 2021" and official.score == pytest.approx(benchmark.harmonic_mean(components))


def test_official_scores_follow_each_edition():
    def row(machine_type, machine, domain, value, pauc_value):
        return {"machine_type": machine_type, "machine": machine, "domain": domain, "method": "lof", "auc": value, "pauc": pauc_value, "error": ""}

    dcase2020 = pd.DataFrame([row("fan", "id_00", "", 0.6, 0.5), row("fan", "id_02", "", 0.8, 0.7), row("pump", "id_00", "", 1.0, 0.9)])
    official = benchmark.official_scores(dcase2020, "DCASE 2020").iloc[0]
    assert (official.auc, official.pauc) == (pytest.approx(0.85), pytest.approx(0.75))  # types, not machines, weigh equally
    assert official.score == pytest.approx(0.8)
    later = pd.DataFrame([row("fan", "section_00", "", 0.7, 0.6), row("fan", "section_00", "source", 0.8, 0.55), row("fan", "section_00", "target", 0.5, 0.52)])
    assert benchmark.official_scores(later, "DCASE 2021").score.iloc[0] == pytest.approx(benchmark.harmonic_mean([0.8, 0.5, 0.55, 0.52]))
    assert benchmark.official_scores(later, "DCASE 2022+").score.iloc[0] == pytest.approx(benchmark.harmonic_mean([0.8, 0.5, 0.6]))
    assert benchmark.official_scores(later[:2], "DCASE 2022+").empty  # a section without its target AUC: no score
    assert benchmark.official_scores(dcase2020, None).empty


def test_dcase_submission_needs_a_dcase_folder(folder, capsys):
    assert main(["benchmark", str(folder("anomaly_mini")), "--method", "lof", "--dcase-submission"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "DCASE submission files need a folder in a DCASE layout" in error and "anomaly_mini layout" in error


def test_a_folder_of_one_machine_type_takes_its_name(folder, tmp_path):
    """`aad benchmark dev/valve` gave an empty machine type, so runs on fan and valve wrote the same files."""
    table = benchmark.run(folder("DCASE 2020") / "valve", ["lof"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    assert set(table[~table.machine_type.isin(benchmark.SUMMARY_ROWS)].machine_type) == {"valve"}
    assert (tmp_path / "out" / "anomaly_score_valve_id_00_lof.csv").is_file()


def test_mimii_snr_folders_stay_apart(tmp_path):
    root = tmp_path / "mimii"
    for snr in ("-6_dB", "6_dB"):
        write_clips(root / snr, names("MIMII", "id_00"))
    table = benchmark.run(root, ["lof"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    machines = table[~table.machine_type.isin(benchmark.SUMMARY_ROWS)]
    assert list(machines.machine_type) == ["-6_dB/valve", "6_dB/valve"] and (machines.auc >= 0.9).all()
    for snr in ("-6_dB", "6_dB"):  # each SNR's own 8 test clips (the baseline split), in a folder of its own
        assert len(pd.read_csv(tmp_path / "out" / snr / "anomaly_score_valve_id_00_lof.csv", header=None)) == 8


def test_score_file_names_keep_the_folders_above_the_machine_type():
    assert benchmark.score_file_name("6_dB/valve", "id_00", "lof") == "6_dB/anomaly_score_valve_id_00_lof.csv"
    assert benchmark.submission_file_names("DCASE 2020", "ToyCar", "id_05") == ("anomaly_score_ToyCar_id_05.csv", None)
    assert benchmark.submission_file_names("DCASE 2021", "fan", "section_03", "target") == (
        "anomaly_score_fan_section_03_target_test.csv", "decision_result_fan_section_03_target_test.csv")
    assert benchmark.submission_file_names("DCASE 2022+", "bearing", "section_00") == (
        "anomaly_score_bearing_section_00_test.csv", "decision_result_bearing_section_00_test.csv")


def test_the_2d_autoencoder_on_modulation_images(folder, tmp_path):
    table = benchmark.run(folder("anomaly_mini"), ["cae2d"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    row = table[table.machine_type == ""].iloc[0]
    assert row.error == "" and row.auc >= 0.9


def test_the_gan_methods_score_clips_by_their_patches(tmp_path):
    """On the real valve clips, where chapter 05 measured them. Not on the generated clips: with 80
    patches of synthetic clicks the discriminator wins (D(real) 0.96, outside chapter 05's health
    range) and both GAN methods rank the faults backwards, while kNN on the same patches ranks them
    perfectly."""
    import aadlib

    archive = aadlib.data.data_dir() / "anomaly_mini.zip"
    if not archive.is_file():
        pytest.skip(f"{archive} is not there; `make data` fetches it")
    table = benchmark.run(aadlib.fetch("anomaly_mini"), ["fanogan", "anogan"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    rows = table[table.machine_type == ""].set_index("method")
    assert (rows.error == "").all(), rows.error.to_dict()
    # chapter 05, seed 0, modulation patches: f-AnoGAN 1.00, AnoGAN 1.00
    assert rows.auc["fanogan"] >= 0.96 and rows.auc["anogan"] >= 0.96, rows.auc.to_dict()
    scores = pd.read_csv(tmp_path / "out" / "anomaly_score_fanogan.csv", header=None)
    assert len(scores) == 10  # one score per test clip, not per patch


def _summary(auc):
    return {key: (auc if key == "auc" else 0.5) for key in benchmark.RECORDED}


def test_chapters_record_results_for_the_comparison_chapter(tmp_path, monkeypatch):
    monkeypatch.setenv("AAD_DATA_DIR", str(tmp_path / "data"))
    nothing = benchmark.recorded(["fanogan"])
    assert nothing.empty and nothing.auc.dtype == float  # nothing recorded yet
    path = benchmark.record("05_gan_detection", {"anogan": _summary(0.9), "fanogan": {**_summary(1.0), "seeds": 3}})
    assert path == tmp_path / "data" / "results" / "anomaly_mini" / "05_gan_detection.csv"
    rows = benchmark.recorded(["fanogan", "lof"])
    assert list(rows.index) == ["fanogan"] and rows.loc["fanogan", "auc"] == 1.0
    assert rows.loc["fanogan", "chapter"] == "05_gan_detection" and rows.loc["fanogan", "seeds"] == 3
    benchmark.record("05_gan_detection", {"fanogan": _summary(0.8)})  # recording again replaces
    assert benchmark.recorded(["anogan", "fanogan"]).auc.to_dict() == {"fanogan": 0.8}
    assert benchmark.recorded(["fanogan"], data="MIMII").empty  # per data set
    benchmark.record("06_transfer_learning", {"transfer:MTT_musicnn": _summary(1.0)})
    asked = ["transfer:MTT_musicnn", "fanogan"]  # not the order of the chapters or of their writing
    assert list(benchmark.recorded(asked).index) == asked


def test_recording_checks_method_names_and_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("AAD_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(AadError, match="Unknown method 'gan'"):
        benchmark.record("05_gan_detection", {"gan": _summary(1.0)})
    with pytest.raises(AadError, match="missing score_s, score_s_std"):
        benchmark.record("05_gan_detection", {"fanogan": {"auc": 1.0, "auc_std": 0.0, "pauc": 1.0, "pauc_std": 0.0, "ap": 1.0,
                                                           "ap_std": 0.0, "fit_s": 1.0, "fit_s_std": 0.0}})
    assert not (tmp_path / "data" / "results").exists()


def test_feature_files_stream_an_autoencoder_through_tf_data(tmp_path):
    from aadlib.autoencoders import Autoencoder

    rng = np.random.default_rng(0)
    normal, shifted = rng.normal(size=(60, 4, 8)), rng.normal(3, 1, size=(10, 4, 8))
    paths = []
    for i, clip in enumerate(np.concatenate([normal, shifted]).astype(np.float32)):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], clip)
    train, test = benchmark.FeatureFiles(paths[:50], chunk=16), benchmark.FeatureFiles(paths[50:], chunk=16)
    assert (len(train), train.n_features, train.nbytes) == (50, 32, 50 * 32 * 4)
    in_memory = np.asarray(train)
    np.testing.assert_array_equal(in_memory, normal[:50].reshape(50, -1).astype(np.float32))
    scaler = train.scaler()
    np.testing.assert_allclose(scaler.mean_, in_memory.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(scaler.scale_, in_memory.std(axis=0), rtol=1e-5)
    dataset = train.dataset(scaler.transform, batch_size=16, seed=0)
    epochs = [np.concatenate(list(dataset)) for _ in range(2)]
    assert [len(x) for x in dataset] == [16, 16, 16, 2]
    for rows in epochs:  # every row once per epoch, in a new order
        np.testing.assert_allclose(np.sort(rows, axis=0), np.sort(scaler.transform(in_memory), axis=0), atol=1e-5)
    assert not np.array_equal(*epochs)
    detector = Autoencoder(epochs=30, batch_size=16, random_state=0).fit(train)
    assert len(detector.history_["loss"]) == 30 and detector.history_["loss"][-1] < detector.history_["loss"][0]
    assert detector.decision_scores_.shape == (50,) and np.isfinite(detector.threshold_)
    scores = detector.decision_function(test)
    np.testing.assert_allclose(scores, detector.decision_function(np.asarray(test)), rtol=1e-5)
    assert auc(np.r_[np.zeros(10), np.ones(10)], scores) >= 0.95


def test_a_machine_larger_than_the_memory_limit_trains_from_disk(folder, tmp_path, monkeypatch):
    root = folder("DCASE 2020")
    streamed = []
    original = benchmark.FeatureFiles.dataset
    monkeypatch.setattr(benchmark.FeatureFiles, "dataset", lambda self, *args: streamed.append(len(self)) or original(self, *args))
    table = benchmark.run(root, ["dense_ae", "lof", "fanogan"], out_dir=tmp_path / "out", n_jobs=1, progress=False, max_memory_mb=0.001)
    # per machine: dense_ae's 10 training clips; lof reads them whole; fanogan's GAN and encoder each
    # stream the clips' 80 patches (8 per 2 s clip)
    assert streamed == [10, 80, 80] * 2
    machines = table[table.machine.str.startswith("id_")]
    assert (machines.error == "").all(), machines.error.to_dict()
    # fanogan is not judged on these synthetic clicks (see test_the_gan_methods_score_clips_by_their_patches)
    assert machines[machines.method != "fanogan"].auc.min() >= 0.9
    assert len(pd.read_csv(tmp_path / "out" / "anomaly_score_valve_id_00_fanogan.csv", header=None)) == 8


def _bands(rng, n):
    """n smooth 16 x 16 patches: horizontal bands of random level and slope, flat."""
    rows = np.linspace(0, 1, 16)[:, None]
    return np.stack([(a + b * rows) * np.ones((16, 16)) for a, b in rng.normal(size=(n, 2))]).reshape(n, -1)


def test_feature_files_stream_a_gan_through_tf_data(tmp_path):
    from aadlib.gan import AnoGAN

    rng = np.random.default_rng(0)
    clips = [_bands(rng, 8) for _ in range(40)]  # 40 normal clips of 8 patches
    clips += [_bands(rng, 8) + rng.normal(scale=2, size=(8, 256)) for _ in range(8)]  # 8 noisy ones
    paths = []
    for i, patches in enumerate(clips):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], patches.reshape(8, 16, 16).astype(np.float32))
    train, test = benchmark.FeatureFiles(paths[:32], chunk=5), benchmark.FeatureFiles(paths[32:], chunk=5)
    patches = train.as_rows(256)
    assert (train.shape, patches.shape, patches.rows_per_file) == ((32, 2048), (256, 256), 8)
    with pytest.raises(AadError, match="holds 2048 values, not rows of 300"):
        train.as_rows(300)
    np.testing.assert_array_equal(np.asarray(patches), np.concatenate(clips[:32]).astype(np.float32))
    batches = list(patches.dataset(lambda rows: -rows, batch_size=32, seed=0))
    assert [len(b) for b in batches] == [32] * 8
    np.testing.assert_array_equal(np.sort(np.concatenate(batches), axis=0), np.sort(-np.asarray(patches), axis=0))
    def clip_of(row):
        return next(i for i, clip in enumerate(clips[:32]) if np.any(np.all(np.isclose(clip, row, atol=1e-5), axis=1)))
    assert len({clip_of(row) for row in -batches[0]}) > 4  # a batch mixes the patches of many clips
    per_clip = benchmark.PerPatch(AnoGAN(shape=(16, 16), search="encoder", epochs=3, encoder_epochs=2, batch_size=32, random_state=0), 256)
    gan = per_clip.fit(train).detector_  # trained on the patches of the training files, streamed
    assert [len(gan.history_[key]) for key in ("d_loss", "e_loss")] == [3, 2]
    assert (gan.low_, gan.high_) == (float(np.asarray(patches).min()), float(np.asarray(patches).max()))
    assert gan.decision_scores_.shape == (256,) and np.isfinite(gan.threshold_)
    clip_scores = per_clip.decision_function(test)
    np.testing.assert_allclose(clip_scores, per_clip.decision_function(np.asarray(test)), rtol=1e-5)
    assert np.isfinite(per_clip.threshold_) and per_clip.predict(test).shape == (16,)
    assert auc(np.r_[np.zeros(8), np.ones(8)], clip_scores) >= 0.9  # noise is far from every band


# -- command-line conventions ---------------------------------------------------------------------


def test_version_and_exit_codes_are_documented(capsys):
    import aadlib

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"aad (aadlib) {aadlib.__version__}"
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert "Exit status: 0 done; 1 bad input" in capsys.readouterr().out and exit_.value.code == 0


def test_results_on_stdout_status_on_stderr_and_quiet(folder, tmp_path, capsys):
    data = str(folder("DCASE 2020"))
    assert main(["benchmark", data, "--method", "lof", "--out", str(tmp_path / "a"), "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("| machine type |") and "wrote " not in captured.out
    assert "wrote " in captured.err
    assert main(["-q", "benchmark", data, "--method", "lof", "--out", str(tmp_path / "b"), "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "| lof |" in captured.out


def test_a_failed_method_gives_exit_status_3_and_keeps_the_other_results(folder, tmp_path, capsys, monkeypatch):
    class Broken(LOF):
        def fit(self, X):
            raise RuntimeError("out of memory")

    monkeypatch.setitem(methods.DETECTORS, "broken", Broken)
    monkeypatch.setitem(benchmark.METHODS, "broken", methods.Method("clip_summary", "broken"))
    out = tmp_path / "out"
    assert main(["benchmark", str(folder("anomaly_mini")), "--method", "lof", "--method", "broken", "--out", str(out), "--jobs", "1"]) == 3
    assert "error: 1 of" in capsys.readouterr().err
    table = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert table.set_index("method").error.loc["broken"] == "RuntimeError: out of memory"
    assert (table[table.method == "lof"].error == "").all()


def test_a_missing_deep_learning_library_names_the_extra(folder, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "keras" else real(name, *args))
    assert main(["benchmark", str(folder("anomaly_mini")), "--method", "dense_ae"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "needs keras, which is not installed" in error and "pip install 'aadlib[deep]'" in error
    benchmark.check_methods(["lof", "gmm"])  # the classical methods need neither


def test_a_killed_run_keeps_its_work_and_resume_runs_only_the_rest(folder, tmp_path, monkeypatch):
    data, out = folder("DCASE 2020"), tmp_path / "out"
    whole = benchmark.run(data, ["lof", "gmm"], out_dir=tmp_path / "whole", n_jobs=1, progress=False)
    real, calls = benchmark._run_machine, []

    def killed_at_the_third(method, machine_type, machine, *args):
        calls.append((machine, method))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(method, machine_type, machine, *args)

    monkeypatch.setattr(benchmark, "_run_machine", killed_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        benchmark.run(data, ["lof", "gmm"], out_dir=out, n_jobs=1, progress=False)
    kept = pd.read_csv(out / "results.csv")
    assert list(zip(kept.machine, kept.method)) == [("id_00", "lof"), ("id_00", "gmm")]  # written as each finished

    calls.clear()
    resumed = benchmark.run(data, ["lof", "gmm"], out_dir=out, n_jobs=1, progress=False, resume=True)
    assert calls == [("id_02", "lof"), ("id_02", "gmm")]  # only what the killed run had not finished
    columns = ["machine_type", "machine", "method", "auc", "pauc", "ap"]
    pd.testing.assert_frame_equal(resumed[columns], whole[columns])
    with pytest.raises(AadError, match="other options"):
        benchmark.run(data, ["lof"], seeds=2, out_dir=out, n_jobs=1, progress=False, resume=True)


# -- where each concern lives; method settings from a YAML file -------------------------------------


def test_the_feature_store_sits_below_the_detectors_and_nothing_imports_tensorflow_early():
    """aadlib.store is imported by the detectors and imports none of them; neither it, `import aadlib`
    nor `aad benchmark --help` imports TensorFlow or Keras."""
    import subprocess
    import sys
    from pathlib import Path

    package = str(Path(benchmark.__file__).parent)
    alone = ("import sys, types; package = types.ModuleType('aadlib'); package.__path__ = [sys.argv[1]]; sys.modules['aadlib'] = package; "
             "import aadlib.store; print(' '.join(sorted(name for name in sys.modules if name.split('.')[0] in ('aadlib', 'tensorflow', 'keras'))))")
    loaded = subprocess.run([sys.executable, "-c", alone, package], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["aadlib", "aadlib.data", "aadlib.features", "aadlib.store", "aadlib.utils"]  # not the package's __init__: store alone
    command = ("import sys, contextlib, io, aadlib, aadlib.benchmark\nfrom aadlib.__main__ import main\n"
               "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n    main(['benchmark', '--help'])\n"
               "print(' '.join(sorted(name for name in sys.modules if name.split('.')[0] in ('tensorflow', 'keras'))))")
    assert subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, check=True).stdout.split() == []


def test_the_runner_s_parts_are_importable_from_benchmark_as_before():
    assert benchmark.METHODS is methods.METHODS and benchmark.FeatureFiles is store.FeatureFiles
    assert benchmark.features_of is store.features_of and benchmark.PerPatch is methods.PerPatch
    kind, make = benchmark.METHODS["gmm"]  # a method unpacks as the (kind, make) pair it was
    assert kind == "clip_summary" and make(3, None).get_params()["random_state"] == 3
    assert benchmark.METHODS["dense_ae"][0] == "clip_summary"


def test_a_config_file_changes_the_settings_of_the_methods_it_names(folder, tmp_path, monkeypatch):
    config = tmp_path / "methods.yml"
    config.write_text("lof: {n_neighbors: 3}\ndense_ae: {epochs: 100}\ngmm: {kind: level}\n")
    changed = methods.configured(methods.read_config(config))
    assert changed["lof"].make(0, None).n_neighbors == 3 and changed["lof"].kind == "clip_summary"
    assert changed["dense_ae"].settings == {"epochs": 100, "batch_size": 20}  # the other settings stay the chapter's
    assert changed["gmm"].kind == "level" and changed["iforest"] is methods.METHODS["iforest"]
    assert methods.METHODS["lof"].make(0, None).n_neighbors == 10 and methods.METHODS["gmm"].kind == "clip_summary"  # defaults untouched

    data = str(folder("DCASE 2020"))
    kinds, real = [], benchmark.features_of
    monkeypatch.setattr(benchmark, "features_of", lambda folder, files, kind, **options: kinds.append(kind) or real(folder, files, kind, **options))
    assert main(["-q", "benchmark", data, "--method", "lof", "--out", str(tmp_path / "default"), "--jobs", "1"]) == 0
    assert main(["-q", "benchmark", data, "--method", "lof", "--method", "gmm", "--config", str(config), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    assert kinds == ["clip_summary", "clip_summary", "level"]
    scores = [pd.read_csv(tmp_path / out / "anomaly_score_valve_id_00_lof.csv", header=None)[1] for out in ("default", "out")]
    assert not np.allclose(*scores)  # 3 neighbours, not 10
    lof = benchmark.run(data, ["lof"], out_dir=tmp_path / "python", n_jobs=1, progress=False, config={"lof": {"n_neighbors": 3}})
    np.testing.assert_allclose(pd.read_csv(tmp_path / "python" / "anomaly_score_valve_id_00_lof.csv", header=None)[1], scores[1])
    assert lof.error.eq("").all()
    with pytest.raises(AadError, match="other options"):  # a resumed run keeps the settings it started with
        benchmark.run(data, ["lof"], out_dir=tmp_path / "python", n_jobs=1, progress=False, resume=True)


@pytest.mark.parametrize("text, message", [
    ("lof: {n_neigbors: 3}\n", "gives lof the unknown setting 'n_neigbors'; its detector (lof) takes kind (the feature kind) and "),
    ("lfo: {n_neighbors: 3}\n", "names an unknown method 'lfo'; known methods: gmm, "),
    ("gmm: {kind: loudness}\n", "gives gmm the unknown feature kind 'loudness'; choose from clip_summary, "),
    ("dense_ae: {random_state: 3}\n", "gives dense_ae the unknown setting 'random_state'"),  # the seed is --seeds'
    ("lof: 3\n", "gives lof 3, not a mapping of settings, e.g. `lof: {n_neighbors: 3}`."),
    ("- lof\n", "must map method names to their settings, e.g. `lof: {n_neighbors: 3}`."),
    ("lof: {n_neighbors: [3\n", "is not valid YAML: "),
])
def test_a_bad_config_file_is_one_sentence(tmp_path, capsys, text, message):
    config = tmp_path / "methods.yml"
    config.write_text(text)
    assert main(["benchmark", str(tmp_path), "--method", "lof", "--config", str(config)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"error: {config}") and message in error and error.rstrip().endswith(".")


def test_a_missing_config_file_is_one_sentence(tmp_path, capsys):
    assert main(["benchmark", str(tmp_path), "--method", "lof", "--config", str(tmp_path / "nothing.yml")]) == 1
    assert capsys.readouterr().err == f"error: The configuration file {tmp_path / 'nothing.yml'} does not exist.\n"


class CountingBackbone:
    """A stand-in for a pretrained network: a clip's 'embedding' is its length and mean, and every call is counted."""

    def __init__(self):
        self.calls = []

    def embed(self, signals, sr):
        self.calls.append(len(signals))
        return np.array([[len(y) / sr, float(np.mean(y))] for y in signals], np.float32)


@pytest.mark.parametrize("gpu", [False, True])
def test_embeddings_are_the_same_on_the_cpu_and_the_gpu_path(tmp_path, monkeypatch, gpu):
    """Without a GPU each clip is embedded on its own (in the workers: here one, in this process); with one,
    EMBED_BATCH clips at a time by one network in this process; the features and the cache are the same."""
    folder = tmp_path / "clips"
    names = [f"clip_{i}.wav" for i in range(5)]
    for i, name in enumerate(names):
        write(folder / name, tone(seconds=0.5 + 0.1 * i, seed=i))
    write(folder / "empty.wav", np.zeros(0, np.float32))
    backbone = CountingBackbone()
    monkeypatch.setattr(store, "_backbone", lambda name: backbone)
    monkeypatch.setattr(store, "gpu_present", lambda: gpu)
    monkeypatch.setattr(store, "EMBED_BATCH", 2)
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        values, bad = store.features_of(folder, [*names, "empty.wav"], "embedding:MTT_musicnn", n_jobs=1, cache_dir=tmp_path / "cache", progress=False)
    assert [b.split(":")[0] for b in bad] == ["empty.wav"] and values[-1] is None
    np.testing.assert_allclose(np.stack(values[:-1])[:, 0], [0.5 + 0.1 * i for i in range(5)], atol=1e-6)
    assert backbone.calls == ([2, 2, 1] if gpu else [1] * 5)  # the empty clip never reaches the network
    again, _ = store.features_of(folder, names, "embedding:MTT_musicnn", n_jobs=1, cache_dir=tmp_path / "cache", progress=False)
    assert len(backbone.calls) == (3 if gpu else 5)  # the second run reads the cache on either path
    np.testing.assert_array_equal(np.stack(again), np.stack(values[:-1]))



def test_a_clip_the_network_cannot_take_is_named_on_the_gpu_path(tmp_path, monkeypatch):
    class ShortClipsFail(CountingBackbone):
        def embed(self, signals, sr):
            if any(len(y) < 0.6 * sr for y in signals):
                raise ValueError("too short for one patch")
            return super().embed(signals, sr)

    folder = tmp_path / "clips"
    for i, seconds in enumerate((1.0, 0.5, 1.0)):
        write(folder / f"clip_{i}.wav", tone(seconds=seconds, seed=i))
    monkeypatch.setattr(store, "_backbone", lambda name: ShortClipsFail())
    monkeypatch.setattr(store, "gpu_present", lambda: True)
    with pytest.warns(UserWarning, match="clip_1.wav: too short for one patch"):
        values, bad = store.features_of(folder, ["clip_0.wav", "clip_1.wav", "clip_2.wav"], "embedding:MTT_musicnn", n_jobs=1,
                                        cache_dir=tmp_path / "cache", progress=False)
    assert values[1] is None and values[0] is not None and values[2] is not None and len(bad) == 1


def test_an_auxiliary_classifier_learns_every_machine_of_a_type_once(folder, tmp_path, monkeypatch):
    """DCASE's auxiliary classifiers learn one type's machines (IDs) apart: trained once per type and seed on every
    ID's training clips, then each ID's test clips are scored; on a folder of one machine it cannot, and says why."""
    from aadlib.auxiliary import AuxClassifier

    fits, real_fit = [], AuxClassifier.fit
    monkeypatch.setattr(AuxClassifier, "fit", lambda self, X, y=None, aux=None: fits.append(list(aux)) or real_fit(self, X, y, aux))
    table = benchmark.run(folder("DCASE 2020"), ["arcface"], seeds=2, out_dir=tmp_path / "out", n_jobs=1, progress=False,
                          config={"arcface": {"epochs": 2}})
    machines = table[table.machine.isin(["id_00", "id_02"])]
    assert (machines.error == "").all(), machines.error.iloc[0]
    assert len(fits) == 2 and all(labels == ["id_00"] * 10 + ["id_02"] * 10 for labels in fits)  # once per seed, both IDs
    assert machines.fit_s.nunique() == 1 and machines.auc.between(0, 1).all()  # the shared training's time, on each ID's row
    for machine in ("id_00", "id_02"):
        assert len(pd.read_csv(tmp_path / "out" / f"anomaly_score_valve_{machine}_arcface.csv", header=None)) == 8

    alone = benchmark.run(folder("anomaly_mini"), ["arcface", "lof"], out_dir=tmp_path / "alone", n_jobs=1, progress=False)
    assert alone[alone.method == "arcface"].error.iloc[0].startswith("an auxiliary classifier learns to tell apart the machines")
    assert (alone[alone.method == "lof"].error == "").all()


def test_the_waveform_branch_runs_through_the_benchmark_as_the_convolutional_classifier_does(folder, tmp_path):
    """stgram_arcface (logmel_image_waveform rows, conv_embedding's waveform branch) learns a DCASE type's IDs as cnn_arcface
    does, and on a folder of one machine says the same as cnn_arcface."""
    fast = {"epochs": 2}
    table = benchmark.run(folder("DCASE 2020"), ["stgram_arcface"], out_dir=tmp_path / "out", n_jobs=1, progress=False,
                          config={"stgram_arcface": fast})
    machines = table[table.machine.isin(["id_00", "id_02"])]
    assert (machines.error == "").all(), machines.error.iloc[0]
    assert machines.auc.between(0, 1).all()
    alone = benchmark.run(folder("anomaly_mini"), ["stgram_arcface", "cnn_arcface"], out_dir=tmp_path / "alone", n_jobs=1, progress=False,
                          config={"stgram_arcface": fast, "cnn_arcface": fast})
    errors = alone.set_index("method").error
    assert errors["stgram_arcface"] == errors["cnn_arcface"] and errors["stgram_arcface"].startswith("an auxiliary classifier learns")


def test_clips_of_different_lengths_get_a_sentence_where_a_method_needs_one_size(tmp_path):
    """A waveform (or any feature whose size follows the clip's length) cannot make one row per clip from clips of two
    lengths: the machine's row says so, naming two clips; methods whose features have one size run as before."""
    names = [f"valve/train/normal_id_0{m}_0000000{i}.wav" for m in (0, 2) for i in range(3)]
    names += [f"valve/test/{label}_id_0{m}_00000000.wav" for m in (0, 2) for label in ("normal", "anomaly")]
    for i, name in enumerate(names):
        write(tmp_path / "dcase" / name, tone(seconds=1.5 if i == 1 else 1.0, freq=200 + 50 * i, seed=i))
    table = benchmark.run(tmp_path / "dcase", ["stgram_arcface", "lof"], out_dir=tmp_path / "out", n_jobs=1, progress=False)
    machines = table[table.machine.isin(["id_00", "id_02"])].set_index(["method", "machine"])
    error = machines.loc[("stgram_arcface", "id_00"), "error"]
    assert error.startswith("its logmel_image_waveform features differ in size from clip to clip (")
    assert "normal_id_00_00000001.wav" in error and "cut the clips to one length" in error
    assert (machines.loc["lof", "error"] == "").all() and machines.loc["lof", "auc"].between(0, 1).all()


def test_the_self_supervised_classifier_runs_on_a_folder_of_one_machine(folder, tmp_path):
    """pitch_classifier needs no labels: each clip's features are its summary and those of two pitch-shifted copies,
    the first the very clip_summary; the classifier learns the shifts and scores a clip by its own summary."""
    from aadlib.store import extract_file

    root = folder("anomaly_mini")
    table = benchmark.run(root, ["pitch_classifier"], out_dir=tmp_path / "out", n_jobs=1, progress=False,
                          config={"pitch_classifier": {"epochs": 3}})
    row = table[table.method == "pitch_classifier"].iloc[0]
    assert row.error == "" and 0 <= row.auc <= 1
    summaries = extract_file(root / "train_0.wav", "pitch_summaries")
    assert summaries.shape == (3, 256) and summaries.dtype == np.float32
    np.testing.assert_allclose(summaries[0], extract_file(root / "train_0.wav", "clip_summary"), rtol=1e-6)
    assert np.abs(summaries[1] - summaries[0]).max() > 1  # a shifted copy sounds different
def test_the_selective_dcase_2023_baseline_fits_a_gaussian_per_domain_where_the_clips_have_domains(tmp_path, folder, monkeypatch):
    """dcase2023_ae_selective gives the selective fit each training clip's domain, from its DCASE 2022+ name, on every one of the
    clip's frame stacks; dcase2023_ae fits one Gaussian. Where no clip has a domain the two are the same method."""
    from aadlib.autoencoders import MahalanobisAutoencoder

    files = [(f"fan/train/section_00_{domain}_train_normal_{i:04d}.wav", False) for domain, n in (("source", 6), ("target", 2)) for i in range(n)]
    files += [(f"fan/test/section_00_{domain}_test_{'anomaly' if a else 'normal'}_{i:04d}.wav", a)
              for domain in ("source", "target") for i, a in enumerate([False] * 2 + [True] * 2)]
    root = write_clips(tmp_path / "dcase2022", files)
    fits, real_fit = [], MahalanobisAutoencoder.fit
    monkeypatch.setattr(MahalanobisAutoencoder, "fit", lambda self, X, y=None, domains=None: fits.append(domains) or real_fit(self, X, y, domains))
    fast = {"epochs": 1}
    table = benchmark.run(root, ["dcase2023_ae", "dcase2023_ae_selective"], out_dir=tmp_path / "out", n_jobs=1, progress=False,
                          config={"dcase2023_ae": fast, "dcase2023_ae_selective": fast})
    assert (table.error.fillna("") == "").all(), table.error.iloc[0]
    simple, selective = fits
    stacks = len(selective) // 8  # each 2 s clip's frame stacks
    assert simple is None and stacks > 1 and list(selective) == ["source"] * 6 * stacks + ["target"] * 2 * stacks
    rows = table[table.machine == "section_00"].set_index(["method", "domain"])
    assert set(rows.index) == {(m, d) for m in ("dcase2023_ae", "dcase2023_ae_selective") for d in ("", "source", "target")}
    assert rows.auc.between(0, 1).all()

    fits.clear()
    plain = folder("anomaly_mini")
    table = benchmark.run(plain, ["dcase2023_ae", "dcase2023_ae_selective"], out_dir=tmp_path / "plain", n_jobs=1, progress=False,
                          config={"dcase2023_ae": fast, "dcase2023_ae_selective": fast})
    assert fits == [None, None]  # no domains: the selective method is the simple one
    scores = [pd.read_csv(next((tmp_path / "plain").glob(f"anomaly_score_*{m}.csv")), header=None)[1] for m in ("dcase2023_ae", "dcase2023_ae_selective")]
    np.testing.assert_array_equal(*scores)


def test_a_log_mel_image_has_one_shape_for_clips_of_any_length_and_its_pitch_copies_differ():
    """logmel_image: the level-free log-mel of 64 bands, its frames averaged into 64 spans; pitch_logmel_images: the
    same image of the clip, then of its copies at +2 and -2 semitones (cnn_arcface's and cnn_pitch_classifier's input)."""
    from aadlib.features import log_mel, time_bins

    sr = 16000
    for seconds in (5, 10):
        audio = (0.1 * np.sin(2 * np.pi * 1000 * np.arange(seconds * sr) / sr)).astype(np.float32)
        image = store.extract_audio(audio, sr, "logmel_image")
        assert image.shape == (64, 64) and image.dtype == np.float32 and image.max() <= 0  # level-free: dB below the peak
        np.testing.assert_allclose(image, time_bins(log_mel(audio, sr, n_mels=64, ref=np.max), 64), rtol=1e-6)
    images = store.extract_audio(audio, sr, "pitch_logmel_images")
    assert images.shape == (3, 64, 64) and images.dtype == np.float32
    np.testing.assert_allclose(images[0], image, rtol=1e-6)
    peaks = images.mean(axis=2).argmax(axis=1)  # the tone's band: higher, then lower, in the shifted copies
    assert peaks[1] > peaks[0] > peaks[2]


def test_a_log_mel_image_with_its_waveform_is_one_row_of_the_image_then_the_samples():
    """logmel_image_waveform (stgram_arcface's input): the logmel_image flat, then the clip's samples at its rate."""
    sr = 16000
    audio = (0.1 * np.sin(2 * np.pi * 1000 * np.arange(5 * sr) / sr)).astype(np.float32)
    row = store.extract_audio(audio, sr, "logmel_image_waveform")
    assert row.shape == (64 * 64 + 5 * sr,) and row.dtype == np.float32
    np.testing.assert_array_equal(row[: 64 * 64], store.extract_audio(audio, sr, "logmel_image").ravel())
    np.testing.assert_array_equal(row[64 * 64 :], audio)
