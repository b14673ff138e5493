"""Run the course's methods on any data folder: DCASE-style score files and results tables.

``aad benchmark DATA_DIR --method lof --method dense_ae`` calls :func:`run`:

1. :func:`aadlib.data.scan` lists the clips and reads split, label, machine
   type, id and section from the file names (no audio is read yet).
2. The feature store (:mod:`aadlib.store`) computes each clip's features for each method's
   feature kind, on all cores, and caches them on disk (:func:`aadlib.store.features_of`); a
   second run reads the cache. Memory holds neither the audio nor the features of the
   whole folder: only the names of the cache files.
3. For each machine (type and id, or type and section), its clips' features are
   read from the cache (so memory grows with the largest machine, not with the
   folder; a machine larger than ``max_memory_mb`` stays on disk as
   :class:`aadlib.store.FeatureFiles`, which the autoencoders and GANs train on through ``tf.data``),
   and for each method (:data:`aadlib.methods.METHODS`, or as a configuration file changes them:
   :func:`aadlib.methods.configured`) and seed, the method is trained on the
   machine's normal training clips and scores its test clips. Scores (the mean
   over seeds) go to one CSV per machine and method, named and laid out as in DCASE (``anomaly_score_<type>_<section or id>_<method>.csv``:
   file name, score; no header), or, with ``dcase_submission``, named as the
   DCASE edition's submission asks, with decision files (:func:`submission_file_names`).
   Unlabelled test clips (DCASE evaluation sets) are scored too.
4. A results table gives AUC, pAUC (max FPR 0.1) and AP per machine (means
   over seeds, from the labelled test clips), their arithmetic mean and their
   harmonic mean, and in a DCASE folder the official score of that edition
   (:func:`official_scores`), as CSV and Markdown.

Chapters whose methods are too slow to train again in chapter 07 :func:`record` their results;
chapter 07 reads them with :func:`recorded`.

The names of the feature store (:mod:`aadlib.store`) and of the method registry
(:mod:`aadlib.methods`) that the runner uses are importable from here too, as before they had
modules of their own (``from aadlib.benchmark import METHODS, FeatureFiles, features_of``).

Notebook: 07_comparison (:func:`run`, :func:`recorded`); 05_gan_detection, 06_transfer_learning
(:func:`record`); the command line's version of chapters 01 to 06.
"""

import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .data import LAYOUTS, scan, writable_cache
from .detectors import summarize
from .metrics import evaluate
from .utils import AadError, seeds as seed_list

# The runner's parts, importable from here as before they had modules of their own:
from .methods import CLASSICAL, METHODS, Method, PerPatch, check_methods, configured  # noqa: F401
from .store import (FEATURES, MAX_MEMORY_MB, MUSICNN_BACKBONES, SHUFFLE_ROWS, FeatureFiles, extract_audio,  # noqa: F401
                    extract_file, features_of, load_features)


def resumable(out_dir, options, resume, key):
    """For ``--resume``: the rows of the run already in ``out_dir`` that finished without error, by ``key``.

    Writes this run's options to ``out_dir/run.json``; a resumed run must have the same ones, so that
    the results it keeps and the ones it adds compare.

    Args:
        out_dir (Path): The output folder (exists).
        options (dict): What the results depend on (folder, seeds, feature settings), JSON-serialisable.
        resume (bool): Keep the finished rows of ``out_dir/results.csv`` (else start afresh).
        key (list[str]): Columns that name one unit of work, e.g. machine type, machine and method.

    Returns:
        dict: ``tuple(key values)`` -> that unit's rows (list of dicts), as :func:`run` makes them.
    """
    options = json.loads(json.dumps(options))
    path, results = out_dir / "run.json", out_dir / "results.csv"
    done = {}
    if resume and results.exists():
        earlier = json.loads(path.read_text()) if path.exists() else None
        if earlier != options:
            raise AadError(f"{out_dir} holds the results of a run with other options ({earlier}, not {options}); "
                           "resume with the same options, or write to another --out.")
        text = ["machine_type", "machine", "domain", "method", "error"]
        table = pd.read_csv(results, dtype=dict.fromkeys(text, str))
        table[text] = table[text].fillna("")
        table = table[~table.machine_type.isin(SUMMARY_ROWS)]
        for values, part in table.groupby(key, sort=False):
            if (part.error == "").all():
                done[values] = part.to_dict("records")
    path.write_text(json.dumps(options, indent=1) + "\n")
    return done


def _group_of(fields):
    """(machine type, "section_XX" or "id_XX" or "") of one clip."""
    if fields["section"]:
        return fields["machine_type"], f"section_{fields['section']}"
    return fields["machine_type"], fields["machine_id"]


def score_file_name(machine_type, machine, method):
    """DCASE's name for a per-file score CSV, e.g. ``anomaly_score_valve_id_00_lof.csv``
    (``anomaly_score_lof.csv`` for a folder without machine names, such as anomaly_mini). Folders above
    the machine type become folders of the output: "6_dB/valve" gives ``6_dB/anomaly_score_valve_id_00_lof.csv``."""
    prefix, _, machine_type = machine_type.rpartition("/")
    name = "_".join(["anomaly_score", *(part for part in (machine_type, machine) if part), method]) + ".csv"
    return f"{prefix}/{name}" if prefix else name


SUMMARY_ROWS = ("mean", "harmonic mean", "official score")
"""The machine_type of the rows that summarise machines in a results table."""


def dcase_edition(layout, files):
    """The DCASE Task 2 edition whose rules (submission files, official score) a folder of clips follows.

    Args:
        layout (str): A key of :data:`aadlib.data.LAYOUTS`.
        files (list[str]): The clips' paths relative to the folder.

    Returns:
        str | None: "DCASE 2020"; "DCASE 2021" (DCASE 2021+ layout with test clips in ``source_test/``
        and ``target_test/`` folders, as 2021 published them); "DCASE 2022+" (one ``test/`` folder per
        machine type, as 2022 to 2024 published them); None for other layouts.
    """
    if layout == "DCASE 2020":
        return "DCASE 2020"
    if layout != "DCASE 2021+":
        return None
    return "DCASE 2021" if any(re.search(r"(?:^|/)(?:source|target)_test/", name) for name in files) else "DCASE 2022+"


def submission_file_names(edition, machine_type, machine, domain=""):
    """The file names a DCASE Task 2 submission (and the task's evaluator) expects for one machine.

    Args:
        edition (str): From :func:`dcase_edition`.
        machine_type (str): E.g. "valve" (without folders above it).
        machine (str): "id_05" (2020) or "section_03".
        domain (str): "source" or "target" (2021, which has one file per domain).

    Returns:
        tuple[str, str | None]: The anomaly-score file (file name, score; no header) and the
        decision file (file name, 0 normal or 1 anomaly), None for 2020, which asked for none:
        ``anomaly_score_valve_id_05.csv`` (2020),
        ``anomaly_score_valve_section_03_source_test.csv`` and ``decision_result_...`` (2021),
        ``anomaly_score_valve_section_03_test.csv`` and ``decision_result_...`` (2022 on).
    """
    if edition == "DCASE 2020":
        return f"anomaly_score_{machine_type}_{machine}.csv", None
    test = f"{domain}_test" if edition == "DCASE 2021" else "test"
    return f"anomaly_score_{machine_type}_{machine}_{test}.csv", f"decision_result_{machine_type}_{machine}_{test}.csv"


def _write_submission(folder, edition, machine_type, machine, names, scores, threshold, domains):
    """One machine's files in a DCASE submission's names (:func:`submission_file_names`) in ``folder``;
    decisions are 1 where the score is above the threshold."""
    prefix, _, machine_type = machine_type.rpartition("/")
    folder = folder / prefix if prefix else folder
    folder.mkdir(parents=True, exist_ok=True)
    decisions = (scores > threshold).astype(int)
    parts = [(d, domains == d) for d in sorted(set(domains))] if edition == "DCASE 2021" else [("", np.ones(len(names), bool))]
    for domain, part in parts:
        score_file, decision_file = submission_file_names(edition, machine_type, machine, domain)
        pd.DataFrame({"file": names[part], "score": scores[part]}).to_csv(folder / score_file, index=False, header=False)
        if decision_file:
            pd.DataFrame({"file": names[part], "decision": decisions[part]}).to_csv(folder / decision_file, index=False, header=False)


def harmonic_mean(values):
    """Harmonic mean of positive numbers (DCASE 2021+ uses it to average over machines); 0 if any is 0."""
    values = np.asarray(values, dtype=float)
    return 0.0 if np.any(values <= 0) else float(len(values) / np.sum(1.0 / values))


def official_scores(table, edition):
    """Per method, the score DCASE Task 2 ranked systems by in an edition, from a results table's machine rows.

    - DCASE 2020: the mean of AUC and pAUC, each averaged over the machine IDs of a machine type and then
      over machine types (the per-type averages of y-kawagu/dcase2020_task2_evaluator; Koizumi et al.,
      "Description and discussion on DCASE2020 Challenge Task2", arXiv:2006.05822).
    - DCASE 2021: the harmonic mean of the AUCs and pAUCs of every machine type, section and domain, each
      domain's on its own test clips (Kawaguchi et al., "Description and discussion on DCASE 2021
      Challenge Task 2", arXiv:2106.04492; y-kawagu/dcase2021_task2_evaluator).
    - DCASE 2022+: the harmonic mean of the source and target AUCs of every machine type and section, a
      domain's AUC computed on that domain's normal test clips and all anomalous test clips of the
      section, and the pAUC of every section on all its test clips (Dohi et al., "Description and
      discussion on DCASE 2022 Challenge Task 2", arXiv:2206.05876, and on 2023, arXiv:2305.07828;
      nttcslab/dcase2023_task2_evaluator and dcase2024_task2_evaluator, ``official score``).

    A method gets its score only when every machine has labelled test clips (names or ground truth),
    no error and, after 2020, the AUCs of both domains. The evaluators floor values at machine epsilon
    before the harmonic mean; :func:`harmonic_mean` gives 0 where one is 0, the same to 15 digits.

    Args:
        table (pd.DataFrame): The rows :func:`run` makes per machine and domain.
        edition (str | None): From :func:`dcase_edition`; None gives no rows.

    Returns:
        pd.DataFrame: One row per method: machine_type "official score", machine the edition, auc and
        pauc (the means they enter the score as: arithmetic in 2020, harmonic after) and score.
    """
    rows = []
    machines = table[~table.machine_type.isin(SUMMARY_ROWS)] if edition else table.iloc[:0]
    for method, part in machines.groupby("method", sort=False):
        whole = part[part.domain == ""]
        if (whole.error != "").any() or whole.auc.isna().any():
            continue
        if edition == "DCASE 2020":
            per_type = whole.groupby("machine_type")[["auc", "pauc"]].mean()
            auc, pauc = float(per_type.auc.mean()), float(per_type.pauc.mean())
            score = (auc + pauc) / 2
        else:
            domains = part[part.domain.isin(["source", "target"])]
            if len(domains) != 2 * len(whole):
                continue
            paucs = domains.pauc if edition == "DCASE 2021" else whole.pauc
            auc, pauc = harmonic_mean(domains.auc), harmonic_mean(paucs)
            score = harmonic_mean(np.concatenate([domains.auc, paucs]))
        rows.append({"machine_type": "official score", "machine": edition, "domain": "", "method": method,
                     "auc": auc, "pauc": pauc, "score": score, "error": ""})
    return pd.DataFrame(rows)


def run(folder, methods, seeds=1, out_dir="aad_results", sr=16000, n_jobs=-1, cache_dir=None, on_bad="skip", progress=True,
        max_memory_mb=None, resume=False, ground_truth=None, dcase_submission=False, config=None):
    """Train and score every method on every machine of a folder; write score CSVs and a results table.

    Args:
        folder (str | Path): Data folder in one of the layouts of :data:`aadlib.data.LAYOUTS`.
        methods (list[str]): Keys of :data:`aadlib.methods.METHODS`.
        seeds (int): Seeds 0 .. seeds - 1 per method (results are means over them; ``AAD_SEED_OFFSET``
            shifts them, see :func:`aadlib.utils.seeds`).
        out_dir (str | Path): Output folder (created).
        sr (int): Sample rate (Hz) the clips are resampled to.
        n_jobs (int): Feature-extraction workers (-1 = all cores).
        cache_dir (str | Path | None): Feature cache (default: see :func:`aadlib.store.features_of`).
        on_bad (str): "skip" or "stop" on unreadable clips (see :func:`aadlib.store.features_of`).
        progress (bool): Show progress bars.
        max_memory_mb (float | None): A machine's training (or test) features larger than this
            (as float32; default :data:`aadlib.store.MAX_MEMORY_MB`) stay on disk (:class:`aadlib.store.FeatureFiles`): the
            autoencoders and GANs train on them through ``tf.data``; other methods still read them whole.
        resume (bool): Keep what an earlier run with the same options wrote to ``out_dir`` and run only
            the (machine, method) pairs it did not finish (see :func:`resumable`). ``results.csv`` is
            rewritten as each pair finishes, so a killed run keeps its work.
        ground_truth (str | Path | None): DCASE's ground-truth CSV file, or a folder of them, giving the
            labels (and domains) of an evaluation set's unlabelled test clips (:func:`aadlib.data.read_ground_truth`).
        dcase_submission (bool): Name the score files as a DCASE submission of the folder's edition asks
            (:func:`submission_file_names`), one folder per method (``<out_dir>/<method>/``), with decision
            files from each detector's ``threshold_`` (the mean over seeds; 1 = score above it).
        config (dict | None): Settings that change the methods' (:func:`aadlib.methods.configured`): method name ->
            {setting: value}, as :func:`aadlib.methods.read_config` reads them from a YAML file
            (``aad benchmark --config FILE``); a resumed run must have the same.

    Returns:
        pd.DataFrame: One row per machine and method (columns machine_type, machine, domain,
        method, auc, pauc, ap, fit_s and score_s (seconds to train, and to score the machine's
        test clips), each with its ``_std`` over seeds, auc_low and auc_high (the 95 % interval of the
        first seed's AUC over the labelled test clips, :func:`aadlib.detectors.summarize`), and error), plus "mean" and "harmonic
        mean" rows per method. AUC, pAUC and AP come from the labelled test clips; a machine whose
        test clips are all unlabelled has none (its scores are written all the same). Where the
        test clips have domains (DCASE 2021 and later), each machine also gets one row per domain,
        scored as that edition defined a domain's AUC (2021: the domain's test clips; 2022 on: the
        domain's normal clips and all anomalous ones; no times: the models are the same), and the
        means are per domain too. In a DCASE folder, an "official score" row per method gives the
        edition's ranking score (:func:`official_scores`, column score).
    """
    check_methods(methods)
    registry = configured(config)
    layout, records = scan(folder, ground_truth)
    edition = dcase_edition(layout, [name for name, _ in records])
    if dcase_submission and edition is None:
        raise AadError(f"DCASE submission files need a folder in a DCASE layout (DCASE 2020: {LAYOUTS['DCASE 2020']}; "
                       f"DCASE 2021+: {LAYOUTS['DCASE 2021+']}), but {folder} is in the {layout} layout.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([{"file": name, **fields} for name, fields in records])
    frame["group"] = [_group_of(fields) for _, fields in records]
    if not (frame.split == "test").any() or not (frame.split == "train").any():
        raise AadError(f"{folder} needs both training and test clips; in the {layout} layout they are named {LAYOUTS[layout]}.")
    cached_by_kind = {}  # each clip's cache file: features are read one machine at a time
    for kind in sorted({registry[m][0] for m in methods}):
        cached_by_kind[kind], _ = features_of(folder, list(frame.file), kind, sr=sr, n_jobs=n_jobs, cache_dir=cache_dir,
                                              on_bad=on_bad, progress=progress, load=False)
    max_bytes = (MAX_MEMORY_MB if max_memory_mb is None else max_memory_mb) * 2**20
    options = {"folder": str(Path(folder).resolve()), "seeds": seed_list(seeds), "sr": sr}
    if ground_truth is not None:
        options["ground_truth"] = str(Path(ground_truth).resolve())
    if dcase_submission:
        options["dcase_submission"] = True
    if config:
        options["config"] = config
    done = resumable(out_dir, options, resume, ["machine_type", "machine", "method"])
    rows, shared_fits = [], {}
    of_type = dict(tuple(frame.groupby("machine_type")))
    for (machine_type, machine), members in frame.groupby("group", sort=True):
        for method in methods:
            record, cached = registry[method], cached_by_kind[registry[method].kind]
            if (machine_type, machine, method) in done:
                rows.extend(done[(machine_type, machine, method)])
            else:
                rows.extend(_run_machine(method, machine_type, machine, record, members, of_type[machine_type], cached, seeds, out_dir,
                                         max_bytes, edition, dcase_submission, shared_fits))
            pd.DataFrame(rows).to_csv(out_dir / "results.csv", index=False)
    table = pd.DataFrame(rows)
    summaries = [part for part in (_averages(table), official_scores(table, edition)) if not part.empty]
    table = pd.concat([table, *summaries], ignore_index=True)
    table.to_csv(out_dir / "results.csv", index=False)
    (out_dir / "results.md").write_text(to_markdown(table) + "\n")
    return table


NO_LABELS = {"auc": np.nan, "pauc": np.nan, "ap": np.nan}
"""The metrics of a machine whose test clips are all unlabelled."""


def _run_machine(method, machine_type, machine, record, members, of_type, cached, seeds, out_dir, max_bytes, edition=None,
                 submission=False, shared_fits=None):
    """The machine's result row, then one row per domain of its test clips (DCASE 2021+ layouts).
    ``record``: the method (:class:`aadlib.methods.Method`); ``members``: the machine's clips, ``of_type``: every clip
    of its type. ``cached``: every clip's cache file (None where skipped); only the training clips' and this machine's
    test clips' are read. All test clips are scored and written; the metrics come from the labelled ones. An auxiliary
    classifier learns the training clips of every machine of the type, each machine its label; it is trained once per
    type and seed and kept in ``shared_fits`` for the type's other machines, with its time."""
    row = {"machine_type": machine_type, "machine": machine, "domain": "", "method": method}
    train_from = of_type if record.auxiliary else members
    train = [i for i in train_from.index if cached[i] is not None and train_from.split[i] == "train"]
    test = [i for i in members.index if cached[i] is not None and members.split[i] == "test"]
    machines = [train_from.group[i][1] for i in train]
    if record.auxiliary and len(set(machines)) < 2:
        return [{**row, "error": f"an auxiliary classifier learns to tell apart the machines (IDs or sections) of one type, and "
                                 f"{machine_type or 'this folder'} has training clips of one machine only; run it on a folder with several, or choose another method"}]
    fit_with = record.fit_arguments(aux=machines, domains=train_from.domain[train].to_numpy())
    labels = members.label[test].to_numpy()
    labelled = labels != ""
    y = (labels == "anomaly").astype(int)
    if not train or not test or (labelled.any() and len(set(y[labelled])) < 2):
        return [{**row, "error": "needs training clips and both normal and anomalous test clips"}]
    if not record.per_patch:  # one row per clip: every clip's features must have one size
        files = [train_from.file[i] for i in train] + [members.file[i] for i in test]
        sizes = [np.load(cached[i], mmap_mode="r").size for i in (*train, *test)]
        if len(set(sizes)) > 1:
            other = next(k for k, size in enumerate(sizes) if size != sizes[0])
            return [{**row, "error": f"its {record.kind} features differ in size from clip to clip ({sizes[0]} values for "
                                     f"{Path(files[0]).name}, {sizes[other]} for {Path(files[other]).name}), as they do when clips "
                                     f"differ in length; cut the clips to one length, or choose a method whose features do not depend on it"}]
    try:
        X_train, X_test = (load_features([cached[i] for i in part], max_bytes) for part in (train, test))
        example = np.load(cached[train[0]])
        runs, all_scores, thresholds = [], [], []
        for seed in seed_list(seeds):
            key = (method, machine_type, seed)
            if record.auxiliary and key in shared_fits:
                detector, fit_s = shared_fits[key]
            else:
                started = time.perf_counter()
                detector = record.make(seed, example).fit(X_train, **fit_with)
                fit_s = time.perf_counter() - started
                if record.auxiliary:  # only these are shared: any other seed's detector is freed before the next is trained
                    shared_fits[key] = detector, fit_s
            started = time.perf_counter()
            scores = detector.decision_function(X_test)
            all_scores.append(scores)
            thresholds.append(detector.threshold_)
            metrics = evaluate(y[labelled], scores[labelled]) if labelled.any() else NO_LABELS
            runs.append({**metrics, "fit_s": fit_s, "score_s": time.perf_counter() - started})
    except Exception as error:  # one method failing on one machine must not lose the other results
        return [{**row, "error": f"{type(error).__name__}: {error}"}]
    names = np.array([Path(members.file[i]).name for i in test])
    domains = members.domain[test].to_numpy()
    if submission:
        _write_submission(out_dir / method, edition, machine_type, machine, names, np.mean(all_scores, axis=0),
                          float(np.mean(thresholds)), domains)
    else:
        path = out_dir / score_file_name(machine_type, machine, method)
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"file": names, "score": np.mean(all_scores, axis=0)}).to_csv(path, index=False, header=False)
    first = all_scores[0]  # the 95 % interval of the first seed's AUC over the test clips, beside the spread over seeds
    rows = [{**row, **(summarize(runs, y[labelled], first[labelled]) if labelled.any() else summarize(runs)), "error": ""}]
    for domain in sorted(set(domains) - {""}):
        if edition == "DCASE 2021":  # each domain on its own normal and anomalous test clips
            part = labelled & (domains == domain)
        else:  # 2022 on: the domain's normal clips and every anomalous clip of the section
            part = labelled & ((domains == domain) | (y == 1))
        if len(set(y[part])) == 2:
            runs = [evaluate(y[part], scores[part]) for scores in all_scores]
            rows.append({**row, "domain": domain, **summarize(runs, y[part], first[part]), "error": ""})
    return rows



def _averages(table):
    """Per method (and domain, where there are domains): mean and harmonic mean over the machines with metrics."""
    rows = []
    for (method, domain), part in table.groupby(["method", "domain"], sort=False):
        ok = part[(part.error == "") & part.auc.notna()] if "auc" in part else part.iloc[:0]
        if ok.empty:
            continue
        for name, average in (("mean", np.mean), ("harmonic mean", harmonic_mean)):
            rows.append({"machine_type": name, "machine": "", "domain": domain, "method": method, "error": "",
                         **{key: float(average(ok[key])) for key in ("auc", "pauc", "ap")}})
    return pd.DataFrame(rows)


def to_markdown(table):
    """The results table as a Markdown table (AUC, pAUC, AP with their spread over seeds; the official
    score where the table has one)."""
    scored = "score" in table.columns and table.score.notna().any()
    columns = ["machine type", "machine", "domain", "method", "AUC", "pAUC", "AP", *(["score"] if scored else []), "train s", "error"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]

    def cell(row, key):
        value = row.get(key)
        if value is None or pd.isna(value):
            return ""
        spread = row.get(f"{key}_std")
        return f"{value:.3f}" + (f" ± {spread:.3f}" if spread is not None and not pd.isna(spread) else "")

    for _, row in table.iterrows():
        fit = "" if pd.isna(row.get("fit_s")) else f"{row['fit_s']:.1f}"
        score = f" {cell(row, 'score')} |" if scored else ""
        lines.append(f"| {row.machine_type} | {row.machine} | {row.domain} | {row.method} | {cell(row, 'auc')} | {cell(row, 'pauc')} | {cell(row, 'ap')} |{score} {fit} | {row.error} |")
    return "\n".join(lines)


RECORDED = ("auc", "auc_std", "pauc", "pauc_std", "ap", "ap_std", "fit_s", "fit_s_std", "score_s", "score_s_std")
"""The numbers a chapter records per method, the means and spreads over seeds that :func:`run` reports."""

_OPTIONAL = ("seeds", "feature_s", "auc_low", "auc_high")
"""Numbers a chapter may record too (see :func:`record`)."""


def _records(data):
    return writable_cache() / "results" / data


def record(chapter, rows, data="anomaly_mini"):
    """Save a chapter's results for the comparison chapter, as ``results/<data>/<chapter>.csv`` in
    the cache. Chapters whose methods are too slow to train again in chapter 07 record what they
    measured; recording again replaces the chapter's file.

    Args:
        chapter (str): The notebook's name, e.g. "05_gan_detection".
        rows (dict): Method name (a key of :data:`aadlib.methods.METHODS`, measured with that method's settings)
            -> dict with every key of :data:`RECORDED` (e.g. the output of
            :func:`aadlib.detectors.summarize` over seeds, with ``score_s`` the seconds to score
            all test clips) and optionally ``seeds``, ``feature_s`` (seconds to compute the
            test clips' features, where the method's features are costly) and ``auc_low`` /
            ``auc_high`` (the 95 % interval of the first seed's AUC, as :func:`aadlib.detectors.summarize` gives it).
        data (str): The data set the numbers were measured on.

    Returns:
        pathlib.Path: The file written.

    Notebook: 05_gan_detection, 06_transfer_learning (write); 07_comparison (reads with :func:`recorded`).
    """
    check_methods(rows)
    missing = {key for values in rows.values() for key in RECORDED if key not in values}
    if missing:
        raise AadError(f"A recorded result needs {', '.join(RECORDED)}; missing {', '.join(sorted(missing))}.")
    from . import __version__

    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = pd.DataFrame([{"method": method, "chapter": chapter, "written": written, "aadlib": __version__,
                           **{key: values.get(key) for key in (*RECORDED, *_OPTIONAL)}}
                          for method, values in rows.items()])
    path = _records(data) / f"{chapter}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def recorded(methods, data="anomaly_mini"):
    """The results the chapters recorded (:func:`record`) for some methods.

    Args:
        methods (list[str]): Method names.
        data (str): The data set.

    Returns:
        pd.DataFrame: Indexed by method in the order of ``methods``, one row per method that
        some chapter recorded (the newest if several did), with the :data:`RECORDED` numbers, ``chapter``, ``written``
        (UTC time), ``aadlib`` (version), ``seeds`` and ``feature_s``. Methods no chapter
        recorded are absent.
    """
    files = sorted(_records(data).glob("*.csv"))
    if not files:  # typed, so that rows measured elsewhere can be added to it
        numbers = (*RECORDED, *_OPTIONAL)
        return pd.DataFrame(columns=["chapter", "written", "aadlib", *numbers], index=pd.Index([], name="method")).astype(dict.fromkeys(numbers, float))
    table = pd.concat([pd.read_csv(path) for path in files], ignore_index=True)
    table = table[table.method.isin(methods)].sort_values("written").drop_duplicates("method", keep="last").set_index("method")
    return table.loc[[method for method in methods if method in table.index]]
