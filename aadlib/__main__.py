"""Command line, as ``aad`` or ``python -m aadlib``.

- ``aad fetch [NAME ...]``: put registered data sets into the cache (anomaly_mini, the DCASE 2020 and
  2023 Task 2 development sets, MIMII, ...).
- ``aad student NOTEBOOK_DIR OUT_DIR``: write student copies of the chapters.
- ``aad benchmark DATA_DIR --method NAME [--method NAME ...]``: train and score methods on any
  data folder; per-file score CSVs and a results table (see :mod:`aadlib.benchmark`).

Results go to stdout; status lines and progress bars to stderr (``-q``/``--quiet`` silences them).
Exit status: 0 all went well; 1 bad input or an impossible request (one sentence on stderr,
no traceback); 2 a command line argparse cannot read; 3 ``aad benchmark`` ran but a method failed
on some machine (its error is in the results table; the other results are written).
"""

import argparse
import sys

from . import __version__
from .benchmark import run, to_markdown
from .methods import METHODS, read_config
from .data import REGISTRY, FileSet, fetch, verified
from .recordings import layout_of, run_recordings
from .store import MAX_MEMORY_MB
from .student import write_student_copies
from .utils import AadError


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="aad",
        description="Tools of the aad-book course (also: python -m aadlib).",
        epilog="examples: aad fetch anomaly_mini; aad student notebooks/ student/; "
        "aad benchmark ~/data/dcase2020/dev --method lof --method dense_ae --seeds 3 --out results/. "
        "Exit status: 0 done; 1 bad input (explained on stderr); 2 bad command line; 3 a benchmark method failed.",
    )
    parser.add_argument("--version", action="version", version=f"aad (aadlib) {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no status lines ('Downloading ...', 'wrote ...') on stderr: results and errors only")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser(
        "fetch",
        help="download, verify and unpack data sets into the cache",
        description="Download registered data sets from their public URLs (with a progress bar), verify their "
        "checksums and unpack them into the cache: data/ of a course checkout, else ~/.cache/aadlib; "
        "the environment variable AAD_DATA_DIR overrides both. A data set already there is not downloaded again. "
        "Where aadlib pins no checksum (DCASE 2020, MIMII), the first download is checked against the MD5 its "
        "Zenodo record publishes and its SHA-256 is recorded beside it, for every later check.",
        epilog="example: aad fetch anomaly_mini; aad fetch dcase2023_dev_valve; aad fetch dcase2020_dev (all six machine types)",
    )
    fetch_parser.add_argument("names", nargs="*", default=["anomaly_mini"], help=f"registered data sets: {', '.join(REGISTRY)}")
    student_parser = commands.add_parser(
        "student",
        help="write student copies: solutions replaced by stubs, solution text removed, outputs cleared",
        description="Write a student copy of every chapter in NOTEBOOK_DIR to OUT_DIR: each exercise's solution "
        "code is replaced by a stub, solution text is removed and outputs are cleared.",
        epilog="example: aad student notebooks/ student/",
    )
    student_parser.add_argument("notebook_dir", help="folder of the chapters, e.g. notebooks/")
    student_parser.add_argument("out_dir", help="folder for the copies (created)")
    bench = commands.add_parser(
        "benchmark",
        help="train each method on the normal training clips of every machine, score the test clips, write results",
        description="Train each method on the normal training clips of every machine in DATA_DIR and score its "
        "test clips. Writes anomaly_score_<type>_<id or section>_<method>.csv per machine (DCASE style) and "
        "results.csv / results.md (AUC, pAUC, AP per machine, mean and harmonic mean, and in a DCASE folder the "
        "official score of its edition). Unlabelled test clips (DCASE evaluation sets) are scored; their AUC needs --ground-truth.",
        epilog="example: aad benchmark ~/data/dcase2020/dev/valve --method lof --method dense_ae --seeds 3 --out results/; "
        "an evaluation set with DCASE's published labels: aad benchmark ~/data/dcase2023/eval --method lof "
        "--ground-truth ~/dcase2023_task2_evaluator --dcase-submission --out submission/",
    )
    bench.add_argument("data_dir", help="folder in a known layout (anomaly_mini, MIMII, DCASE 2020, DCASE 2021+; or long recordings: UAV propeller, labelled folders)")
    bench.add_argument("--method", action="append", required=True, metavar="NAME", help=f"repeatable; one of: {', '.join(METHODS)}")
    bench.add_argument("--seeds", type=int, default=1, help="seeds per method; results are means over them (default 1)")
    bench.add_argument("--out", default="aad_results", help="output folder (default aad_results)")
    bench.add_argument("--sr", type=int, default=16000, help="resample clips to this rate in Hz (default 16000)")
    bench.add_argument("--jobs", type=int, default=-1, help="feature-extraction workers (default -1: all cores)")
    bench.add_argument("--cache", default=None, help="feature cache folder (default ~/.cache/aadlib/features)")
    bench.add_argument("--on-bad", choices=("skip", "stop"), default="skip", help="unreadable clips: skip with a warning (default) or stop")
    bench.add_argument("--resume", action="store_true",
                       help="keep what an earlier run with the same options finished in --out and run only the rest "
                       "(results.csv is rewritten as each method finishes, so a killed run keeps its work)")
    bench.add_argument("--ground-truth", metavar="FILE_OR_FOLDER",
                       help="DCASE's published ground truth of an evaluation set (eval_data_list.csv of 2020, or the "
                       "ground_truth_<type>_section_<xx>_test.csv files of 2021 on, with ground_truth_domain/): labels "
                       "the unlabelled test clips, so that AUC and pAUC are reported for them")
    bench.add_argument("--dcase-submission", action="store_true",
                       help="name the score files as the folder's DCASE edition asks (2022 on: anomaly_score_<type>_section_<xx>_test.csv "
                       "and decision_result_<type>_section_<xx>_test.csv, decisions from each detector's threshold), one folder per method")
    bench.add_argument("--config", metavar="FILE",
                       help="a YAML file that changes methods' settings: method name -> feature kind and/or the detector's settings, "
                       "e.g. 'lof: {n_neighbors: 3}' and 'dense_ae: {epochs: 100, kind: window_summary}' (default: the chapters' settings)")
    bench.add_argument("--max-memory", type=float, default=MAX_MEMORY_MB, metavar="MB",
                       help=f"a machine's features above this size stay on disk; autoencoders and GANs then train through tf.data (default {MAX_MEMORY_MB})")
    recorded = bench.add_argument_group("long recordings (a folder in a layout of aadlib.recordings, e.g. the drone flights)",
                                        "clips are cut from each recording; the split is by recording, normal ones only for training")
    recorded.add_argument("--clip", type=float, default=5.0, metavar="SECONDS", help="clip length (default 5)")
    recorded.add_argument("--hop", type=float, default=None, metavar="SECONDS", help="seconds between clip starts (default: the clip length)")
    recorded.add_argument("--trim", type=float, nargs=2, default=(0.0, 0.0), metavar=("START", "END"),
                          help="seconds left out at the start and end of every recording (default 0 0)")
    recorded.add_argument("--test-share", type=float, default=0.5, metavar="SHARE",
                          help="share of each mission's normal recordings in the test set (default 0.5)")
    args = parser.parse_args(argv)
    progress = not args.quiet

    def status(line):
        if progress:
            print(line, file=sys.stderr)

    try:
        if args.command == "fetch":
            for name in args.names:
                folder = fetch(name, progress=progress, quiet=args.quiet)
                if isinstance(REGISTRY.get(name), FileSet):
                    files = REGISTRY[name].files()
                    have = verified(folder, files)
                    megabytes = sum(size for path, size, _ in files if path in have) / 1e6
                    print(f"{name}: {len(have)} of {len(files)} files ({megabytes:.0f} MB) in {folder}")
                else:
                    print(f"{name}: {folder}")
        elif args.command == "benchmark":
            config = read_config(args.config) if args.config else None
            if layout_of(args.data_dir) and (args.ground_truth or args.dcase_submission):
                raise AadError(f"{args.data_dir} holds long recordings ({layout_of(args.data_dir)}); --ground-truth and "
                               "--dcase-submission are for DCASE folders of clips.")
            if layout_of(args.data_dir):
                table = run_recordings(args.data_dir, args.method, seeds=args.seeds, out_dir=args.out, clip_s=args.clip, hop_s=args.hop,
                                       trim_s=tuple(args.trim), test_size=args.test_share, sr=args.sr, n_jobs=args.jobs,
                                       cache_dir=args.cache, progress=progress, resume=args.resume, config=config)
            else:
                table = run(args.data_dir, args.method, seeds=args.seeds, out_dir=args.out, sr=args.sr, n_jobs=args.jobs,
                            cache_dir=args.cache, on_bad=args.on_bad, max_memory_mb=args.max_memory, progress=progress, resume=args.resume,
                            ground_truth=args.ground_truth, dcase_submission=args.dcase_submission, config=config)
            print(to_markdown(table))
            status(f"wrote {args.out}/results.csv, {args.out}/results.md and the score CSVs")
            failed = table[table.error.fillna("") != ""]
            if len(failed):
                print(f"error: {len(failed)} of {len(table)} results failed, e.g. {failed.method.iloc[0]}: {failed.error.iloc[0]}", file=sys.stderr)
                return 3
        else:
            for path in write_student_copies(args.notebook_dir, args.out_dir):
                status(f"wrote {path}")
    except (AadError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
