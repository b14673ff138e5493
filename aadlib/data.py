"""Data sets: a registry of downloads, a verified cache, and a loader for clip folders.

The cache folder is ``data/`` in a source checkout of the course, or the user
cache folder (e.g. ``~/.cache/aadlib``) when aadlib is installed from pip; the
environment variable ``AAD_DATA_DIR`` overrides both. A file already in the
cache with the registered SHA-256 is never downloaded again.

Notebook: 00_task_and_data, 01_distribution_modelling.
"""

import csv
import hashlib
import os
import re
import shutil
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from .utils import AadError

DATA_DIR_ENV = "AAD_DATA_DIR"


@dataclass(frozen=True)
class Download:
    """One registered download: where it lives, its checksum and what it unpacks to.

    The checksum a download must have is, in this order: ``sha256`` (pinned here); the SHA-256 an
    earlier verified download recorded beside the file (``<file>.sha256``); ``md5`` (an MD5 that a
    package publishes, e.g. soundata's); the MD5 that the Zenodo record ``doi`` publishes, read from
    Zenodo's API at the first download (pooch), which then records the file's SHA-256. Until that
    first download such a file is unverified by aadlib itself.
    """

    url: str
    sha256: str
    filename: str
    folder: str
    description: str
    licence: str = ""
    md5: str = ""
    doi: str = ""
    into: str = ""
    """A folder of the cache that the archive's folder goes into (e.g. "dcase2020_dev"), or "" (the cache itself)."""


@dataclass(frozen=True)
class Bundle:
    """A registered data set published as several archives (e.g. one per machine type): the names of
    their :class:`Download` entries, unpacked side by side into ``<cache>/<folder>``."""

    parts: tuple
    folder: str
    description: str
    licence: str = ""


REGISTRY = {
    "anomaly_mini": Download(
        url="https://github.com/machinelistening/machinelistening.github.io/blob/master/anomaly_mini.zip?raw=true",
        sha256="53fa0ab5613ca129f7c62b303fe27109418622f91e551f6c4e61253940f352e9",
        filename="anomaly_mini.zip",
        folder="anomaly_mini",
        description=(
            "20 normal training clips, 5 normal and 5 anomalous test clips of the MIMII valve "
            "set at 6 dB SNR; mono, 44.1 kHz, 2.5 s. MIMII (Purohit et al., DCASE 2019), CC BY-SA 4.0."
        ),
        licence="CC BY-SA 4.0",
    ),
    "musicnn": Download(
        url="https://files.pythonhosted.org/packages/1b/6f/38229e7d99c438e11114bbfa39c8c39185458c398011d0b6d7d7c7401617/musicnn-0.1.0-py3-none-any.whl",
        sha256="f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa",
        filename="musicnn-0.1.0-py3-none-any.whl",
        folder="musicnn",
        description=(
            "The pretrained musicnn checkpoints (MTT/MSD x musicnn/VGG) inside the PyPI wheel of musicnn 0.1.0 "
            "(Pons & Serra, ISC licence), read as data: its code needs TensorFlow 1 and is never installed."
        ),
        licence="ISC",
    ),
}


@dataclass(frozen=True)
class FileSet:
    """A registered data set published as many files (a repository at a pinned commit), not an archive.

    Its files are listed, with their sizes and SHA-256, in ``aadlib/registry/<listing>``
    (columns path, bytes, sha256; paths relative to the set's folder, as in the source);
    a file's URL is ``base_url`` followed by its path.
    """

    base_url: str
    listing: str
    folder: str
    description: str

    def files(self):
        """Every file of the set: a list of (path, bytes, sha256), sorted by path."""
        with open(Path(__file__).with_name("registry") / self.listing, newline="") as f:
            return sorted((row["path"], int(row["bytes"]), row["sha256"]) for row in csv.DictReader(f))


UAV_COMMIT = "0d87dcdf87d2dd578de502f3f121f81822203a85"

REGISTRY["uav_propeller"] = FileSet(
    base_url=f"https://github.com/tiiuae/UAV-Propeller-Anomaly-Audio-Dataset/raw/{UAV_COMMIT}/",
    listing="uav_propeller.csv",
    folder="uav_propeller",
    description=(
        "293 whole-flight recordings (60-110 s each, 16 kHz mono, about 600 MB) of a quadcopter's on-board "
        "microphone, with 0 to 4 broken propellers on four mission paths: the UAV Propeller Anomaly Audio "
        "Data Set (Technology Innovation Institute; ICASSP 2022, 'Real-world on-board UAV audio data set for "
        "propeller anomalies'). Its repository states no licence: aadlib downloads it from there, never copies it."
    ),
)


# The data sets practitioners download: DCASE Task 2 development sets and MIMII, one archive per
# machine type (and SNR), each also fetched together as a Bundle. Archives unpack to <type>/...;
# ``into`` keeps the sets apart in the cache.

DCASE2020_TYPES = ("ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve")
DCASE2023_DEV_MD5 = {  # soundata 1.0.1, soundata/datasets/dcase23_task2.py, REMOTES["dev_<type>"].checksum
    "bearing": "8a813bc8d8f156b5395bfccdfac7673c",
    "fan": "9348591e96fb0ad499a1e33b082562fc",
    "gearbox": "b6e55f6a31faa0fc8569ec0afdd53ccf",
    "slider": "b3f8dee36b4718c36d659a4fd1c4afe0",
    "ToyCar": "4e3bf15f4101ed4ed4f1fecde2e2b2a3",
    "ToyTrain": "6b02a6c65eebb3b8b1ae59a6b25bb897",
    "valve": "b2051a2022eadb53cd97581120811cae",
}
# As a mirror of the Zenodo record states; the soundata package says CC BY-NC-SA 4.0 in its text and CC BY-NC 4.0
# in its licence field, and the record could not be read from here: the record decides.
DCASE2023_LICENCE = "CC BY 4.0 (unconfirmed: check Zenodo record 7882613)"
MIMII_SNRS = ("-6_dB", "0_dB", "6_dB")
MIMII_TYPES = ("fan", "pump", "slider", "valve")

for _type in DCASE2020_TYPES:
    REGISTRY[f"dcase2020_dev_{_type}"] = Download(
        url=f"https://zenodo.org/records/3678171/files/dev_data_{_type}.zip?download=1",
        sha256="",
        filename=f"dev_data_{_type}.zip",
        folder=_type,
        into="dcase2020_dev",
        doi="10.5281/zenodo.3678171",
        licence="CC BY-NC-SA 4.0",
        description=(
            f"DCASE 2020 Challenge Task 2 development data, {_type}: normal training clips and normal and anomalous "
            "test clips of 3 or 4 machine IDs, 10 s, 16 kHz mono (Koizumi et al., 2020; ToyADMOS and MIMII). "
            "Zenodo record 3678171 (NTT and Hitachi), CC BY-NC-SA 4.0."
        ),
    )
for _type, _md5 in DCASE2023_DEV_MD5.items():
    REGISTRY[f"dcase2023_dev_{_type}"] = Download(
        url=f"https://zenodo.org/records/7882613/files/dev_{_type}.zip?download=1",
        sha256="",
        md5=_md5,
        filename=f"dev_{_type}.zip",
        folder=_type,
        into="dcase2023_dev",
        doi="10.5281/zenodo.7882613",
        licence=DCASE2023_LICENCE,
        description=(
            f"DCASE 2023 Challenge Task 2 development data, {_type}: one section, 990 source-domain and 10 target-domain "
            "normal training clips and 200 test clips, 10 s, 16 kHz mono (Dohi et al., 2023; "
            f"ToyADMOS2 and MIMII DG). Zenodo record 7882613 (Hitachi and NTT), {DCASE2023_LICENCE}."
        ),
    )
for _snr in MIMII_SNRS:
    for _type in MIMII_TYPES:
        REGISTRY[f"mimii_{_snr}_{_type}"] = Download(
            url=f"https://zenodo.org/records/3384388/files/{_snr}_{_type}.zip?download=1",
            sha256="",
            filename=f"{_snr}_{_type}.zip",
            folder=_type,
            into=f"mimii/{_snr}",
            doi="10.5281/zenodo.3384388",
            licence="CC BY-SA 4.0",
            description=(
                f"MIMII, {_type} at {_snr.replace('_', ' ')} SNR: normal and abnormal 10 s clips of 4 machine IDs, "
                "8 microphones, 16 kHz (Purohit et al., DCASE 2019). Zenodo record 3384388 (Hitachi), CC BY-SA 4.0."
            ),
        )
REGISTRY["dcase2020_dev"] = Bundle(
    parts=tuple(f"dcase2020_dev_{t}" for t in DCASE2020_TYPES),
    folder="dcase2020_dev",
    licence="CC BY-NC-SA 4.0",
    description="DCASE 2020 Challenge Task 2 development data: the six machine types (see dcase2020_dev_<type>).",
)
REGISTRY["dcase2023_dev"] = Bundle(
    parts=tuple(f"dcase2023_dev_{t}" for t in DCASE2023_DEV_MD5),
    folder="dcase2023_dev",
    licence=DCASE2023_LICENCE,
    description="DCASE 2023 Challenge Task 2 development data: the seven machine types (see dcase2023_dev_<type>).",
)
REGISTRY["mimii"] = Bundle(
    parts=tuple(f"mimii_{snr}_{t}" for snr in MIMII_SNRS for t in MIMII_TYPES),
    folder="mimii",
    licence="CC BY-SA 4.0",
    description="MIMII: the four machine types at the three SNRs, in mimii/<SNR>/<type>/id_XX/ (see mimii_<SNR>_<type>).",
)


def data_dir():
    """The cache folder: ``$AAD_DATA_DIR``, else ``data/`` of a checkout, else the user cache.

    Returns:
        pathlib.Path: The folder (not created here).
    """
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "data").is_dir():
        return checkout / "data"
    return user_cache_dir()


def user_cache_dir():
    """The user cache folder (``~/.cache/aadlib`` on Linux): the cache of pip installs, and where
    archives from a read-only cache are unpacked."""
    import pooch

    return Path(pooch.os_cache("aadlib"))


def writable_cache():
    """Where aadlib writes what it computes once (e.g. converted model weights): the cache folder,
    or the user cache when the cache folder is read-only (a shared copy).

    Returns:
        pathlib.Path: The folder (not created here).
    """
    cache = data_dir()
    return cache if _writable(cache) or not cache.exists() else user_cache_dir()


def _writable(folder):
    # Root may write anywhere; a folder whose permission bits forbid writing (a shared copy) is read-only anyway.
    return os.access(folder, os.W_OK) and bool(os.stat(folder).st_mode & 0o222)


def sha256(path):
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    return _digests(path)["sha256"]


def _digests(path):
    """SHA-256 and MD5 hex digests of a file, read once in 1 MiB blocks: {"sha256": ..., "md5": ...}."""
    digests = {"sha256": hashlib.sha256(), "md5": hashlib.md5()}
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            for digest in digests.values():
                digest.update(block)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def fetch(name="anomaly_mini", progress=False, partial=False, quiet=False):
    """Make sure a registered data set is in the cache and unpacked; return its folder.

    Nothing is downloaded when the archive is already in the cache with the
    expected checksum (see :class:`Download` for where it comes from). A cached
    archive with another checksum is renamed to ``<file>.corrupt`` (kept for
    inspection, never used) and downloaded again. The archive is unpacked
    beside itself (into ``<cache>/<into>/<folder>``), or into the user cache
    when the cache folder is read-only (a shared copy); an archive a read-only
    cache lacks is downloaded into the user cache.

    A :class:`FileSet` (e.g. ``uav_propeller``) is fetched file by file, each verified; see
    :func:`fetch_files`. A :class:`Bundle` (e.g. ``dcase2020_dev``) fetches each of its archives;
    those already fetched stay when a later one fails.

    Args:
        name (str): A key of :data:`REGISTRY`.
        progress (bool): Show a progress bar while downloading (``aad fetch`` does; the chapters
            do not, to keep their pages clean).
        partial (bool): For a :class:`FileSet` only: without network, return the folder with the
            files already there instead of raising (a warning says how many).
        quiet (bool): No status lines on stderr (the line naming a download, the checksum recorded).

    Returns:
        pathlib.Path: The folder with the WAV files.

    Raises:
        AadError: Unknown name, download impossible, or checksum mismatch.

    Notebook: 00_task_and_data, 01_distribution_modelling, 08_real_flights.
    """
    if name not in REGISTRY:
        raise AadError(f"Unknown data set {name!r}; registered data sets: {', '.join(sorted(REGISTRY))}.")
    entry = REGISTRY[name]
    if isinstance(entry, FileSet):
        return fetch_files(entry, progress, partial)
    if isinstance(entry, Bundle):
        folders = [fetch(part, progress, partial, quiet) for part in entry.parts]
        return Path(os.path.commonpath(folders))
    archive = data_dir() / entry.filename
    if not archive.is_file():  # a read-only cache (a shared copy) without it: the user cache holds the download
        archive = writable_cache() / entry.filename
    if archive.is_file():
        _check_cached(archive, entry)
    if not archive.is_file():
        _download(entry, archive.parent, progress, quiet)
    return _unpack(archive, entry)


def _recorded(path):
    """The SHA-256 an earlier verified download recorded in ``<path>.sha256`` (sha256sum's format), or ""."""
    record = path.with_name(path.name + ".sha256")
    return record.read_text().split()[0] if record.is_file() and record.read_text().strip() else ""


def _record(path, digest, quiet):
    """Record a verified file's SHA-256 beside it, where its folder is writable; a status line says so."""
    record = path.with_name(path.name + ".sha256")
    if _writable(path.parent):
        record.write_text(f"{digest}  {path.name}\n")
        if not quiet:
            print(f"Recorded the SHA-256 of {path.name} ({digest}) in {record}", file=sys.stderr)


def _expected(entry, path):
    """(algorithm, hex digest, where it comes from) that the file ``path`` of ``entry`` must have; reads the
    Zenodo record (network) only where nothing is pinned or recorded. _NetworkError if it cannot."""
    if entry.sha256:
        return "sha256", entry.sha256, "registered"
    if _recorded(path):
        return "sha256", _recorded(path), f"recorded in {path.name}.sha256 by its first download"
    if entry.md5:
        return "md5", entry.md5, "published"
    if not entry.doi:
        raise AadError(f"The registry has no checksum for {entry.filename}: neither a SHA-256, an MD5 nor a Zenodo DOI.")
    return "md5", _zenodo_md5(entry), "published by its Zenodo record"


def _zenodo_md5(entry):
    """The MD5 that the Zenodo record ``entry.doi`` publishes for ``entry.filename``, read from Zenodo's
    API by pooch (``load_registry_from_doi``); _NetworkError if it cannot be read."""
    import pooch

    try:
        record = pooch.create(path=user_cache_dir(), base_url=f"doi:{entry.doi}/", registry=None)
        record.load_registry_from_doi()
    except Exception as error:  # requests, DOI resolution and API errors all mean the same to a reader
        raise _NetworkError(type(error).__name__) from None
    algorithm, _, digest = record.registry.get(entry.filename, "").partition(":")
    if algorithm != "md5" or not digest:
        raise AadError(f"The Zenodo record {entry.doi} lists no MD5 of {entry.filename}; report it to the course.")
    return digest


def _check_cached(archive, entry):
    """Set a cached archive aside if its checksum is wrong; one that cannot be checked (no network to
    read the Zenodo record) is used with a warning; a first check against a published MD5 records its SHA-256."""
    try:
        algorithm, expected, _ = _expected(entry, archive)
    except _NetworkError as error:
        warnings.warn(f"{archive} could not be verified ({error} while reading the MD5 that the Zenodo record "
                      f"{entry.doi} publishes); it is used as it is.", stacklevel=3)
        return
    got = _digests(archive)
    if got[algorithm] != expected:
        _set_aside(archive, entry, algorithm, expected, got[algorithm])
    elif algorithm == "md5":
        _record(archive, got["sha256"], quiet=True)


def _set_aside(path, entry, algorithm, expected, got):
    aside = path.with_name(path.name + ".corrupt")
    name = "SHA-256" if algorithm == "sha256" else "MD5"
    try:
        path.replace(aside)
    except OSError:
        raise AadError(
            f"{path} has {name} {got} but {expected} was expected, and its folder is read-only; "
            f"replace it with a good copy from {entry.url}."
        ) from None
    warnings.warn(
        f"{path} had {name} {got} instead of {expected}; it was moved to {aside} and will be downloaded again.",
        stacklevel=4,
    )


def _download(entry, cache, progress=False, quiet=False):
    by_hand = (
        f"download {entry.url} by hand and save it as {cache / entry.filename}, "
        f"or set {DATA_DIR_ENV} to a folder that already has {entry.filename}"
    )
    partial = cache / f"{entry.filename}.{os.getpid()}.part"  # a name of this process's: feature workers may fetch the same file at once
    try:  # the checksum first: a download that cannot be checked is not started
        algorithm, expected, source = _expected(entry, cache / entry.filename)
    except _NetworkError as error:
        raise AadError(f"Could not read the MD5 of {entry.filename} from its Zenodo record https://doi.org/{entry.doi} "
                       f"({error}); {by_hand}.") from None
    if not quiet:  # status: results alone go to stdout
        print(f"Downloading {entry.filename} from {entry.url} into {cache}", file=sys.stderr)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        _retrieve(entry.url, partial, progress)
    except _NetworkError as error:
        raise AadError(f"Could not download {entry.filename} from {entry.url} ({error}); {by_hand}.") from None
    got = _digests(partial)
    if got[algorithm] != expected:
        bad = cache / (entry.filename + ".corrupt")
        partial.replace(bad)
        name = "SHA-256" if algorithm == "sha256" else f"MD5 ({source})"
        raise AadError(
            f"The download of {entry.filename} from {entry.url} has {name} {got[algorithm]} but {expected} was expected "
            f"(kept as {bad}); {by_hand}."
        )
    partial.replace(cache / entry.filename)
    if algorithm == "md5":
        _record(cache / entry.filename, got["sha256"], quiet)


def fetch_files(entry, progress=False, partial=False):
    """Make sure every file of a :class:`FileSet` is in the cache, verified; return the set's folder.

    The folder is ``<cache>/<entry.folder>``, or the user cache's when the cache folder is read-only
    (a shared copy): files the shared copy holds are then copied from it, the others downloaded.
    A file whose SHA-256 is right is never downloaded again. A download is written to
    ``<file>.part`` and takes the file's name only once its SHA-256 is checked, so an interrupted
    run never leaves a file that a later run takes as good; a file with a wrong checksum is moved
    to ``<file>.corrupt``. One progress bar counts the bytes of the whole set.

    Args:
        entry (FileSet): A registered file set.
        progress (bool): Show the progress bar.
        partial (bool): If a download fails (no network), return the folder with the files it
            holds, with a warning that says how many, instead of raising (unless it holds none).

    Returns:
        pathlib.Path: The folder; its files keep the paths of the source repository.

    Raises:
        AadError: A download failed (naming the file and its URL), or a checksum mismatch.

    Notebook: 08_real_flights.
    """
    listing = entry.files()
    target = writable_cache() / entry.folder
    shared = data_dir() / entry.folder  # a read-only shared copy, where target is the user cache
    have = verified(target, listing)
    missing = [f for f in listing if f[0] not in have]
    copies = verified(shared, missing) if missing and shared != target else set()
    from tqdm import tqdm as plain  # tqdm.auto in a notebook warns about widgets even for a bar it never shows
    from tqdm.auto import tqdm

    with (tqdm if progress else plain)(total=sum(size for _, size, _ in missing), unit="B", unit_scale=True, desc=entry.folder, disable=not progress) as bar:
        for path, size, digest in sorted(missing, key=lambda f: f[0] not in copies):  # the local copies first
            try:
                _copy(shared / path, target / path) if path in copies else _download_file(entry, path, digest, target)
            except _NetworkError as error:
                found = len(verified(target, listing))
                if partial and found:
                    warnings.warn(f"{error}; working with the {found} of {len(listing)} files of {entry.folder} in {target}.", stacklevel=3)
                    return target
                raise AadError(f"{error}; {found} of {len(listing)} files are in {target} (kept); connect to the internet "
                               "and fetch again to get the rest" + (", or use the files there with partial=True." if found else ".")) from None
            bar.update(size)
    return target


def _copy(source, destination):
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(f"{destination.name}.{os.getpid()}.part")
    shutil.copyfile(source, part)
    part.replace(destination)


class _NetworkError(Exception):
    pass


def verified(folder, files):
    """The paths among ``files`` (path, bytes, sha256) that ``folder`` holds with the right size and SHA-256;
    a file with the right size but another checksum is set aside as ``<file>.corrupt`` where the folder is writable."""
    good = set()
    for path, size, digest in files:
        local = folder / path
        if not local.is_file() or local.stat().st_size != size:
            continue
        if sha256(local) == digest:
            good.add(path)
        elif _writable(local.parent):
            local.replace(local.with_name(local.name + ".corrupt"))
    return good


def _retrieve(url, destination, progress=False):
    """Download url to the file ``destination`` with pooch; _NetworkError (the error's type) if it cannot."""
    import pooch

    # We check the hash ourselves (to keep a bad file aside); pooch would log advice to pass known_hash.
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        pooch.retrieve(url, known_hash=None, fname=destination.name, path=destination.parent, progressbar=progress)
    except Exception as error:  # requests, urllib3 and OS errors all mean the same to a reader
        raise _NetworkError(type(error).__name__) from None
    finally:
        logger.setLevel(level)


def _download_file(entry, path, digest, folder):
    """Download one file of a :class:`FileSet` into ``folder/path``, verified; _NetworkError if it cannot."""
    url = entry.base_url + path
    local = folder / path
    local.parent.mkdir(parents=True, exist_ok=True)
    part = local.with_name(local.name + ".part")
    part.unlink(missing_ok=True)  # left by a run that was stopped: never trusted
    try:
        _retrieve(url, part)
    except _NetworkError as error:
        raise _NetworkError(f"Could not download {path} from {url} ({error})") from None
    got = sha256(part)
    if got != digest:
        bad = local.with_name(local.name + ".corrupt")
        part.replace(bad)
        raise AadError(f"The download of {path} from {url} has SHA-256 {got} but {digest} was expected (kept as {bad}); "
                       "fetch again, and if it repeats, the source has changed: report it to the course.")
    part.replace(local)


def _unpack(archive, entry):
    for root in (archive.parent, user_cache_dir()):
        target = root / entry.into / entry.folder
        if target.is_dir():
            return target
        if not root.exists() or _writable(root):
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=root) as scratch:
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(scratch)
                unpacked = Path(scratch, entry.folder)
                if not unpacked.is_dir():
                    held = ", ".join(sorted(os.listdir(scratch))[:5]) or "nothing"
                    raise AadError(f"{archive} does not unpack to a folder {entry.folder} (it holds {held}); "
                                   "report it to the course.")
                # unpacked to a scratch folder first, so a half-unpacked folder is never taken as done
                try:
                    unpacked.replace(target)
                except OSError:
                    if not target.is_dir():
                        raise
                    # another process (a joblib worker of features_of) unpacked the same archive first
            return target
    raise AadError(f"Cannot unpack {archive}: neither its folder nor {user_cache_dir()} is writable.")


# ---------------------------------------------------------------------------
# Loading a folder of clips
# ---------------------------------------------------------------------------

LAYOUTS = {
    "anomaly_mini": "train_0.wav, test_normal_0.wav, test_anomaly_0.wav",
    "MIMII": "valve/id_00/normal/00000000.wav, valve/id_00/abnormal/00000000.wav",
    "DCASE 2020": "valve/train/normal_id_00_00000000.wav, valve/test/anomaly_id_00_00000000.wav, "
    "unlabelled evaluation clips valve/test/id_05_00000000.wav",
    "DCASE 2021+": "valve/train/section_00_source_train_normal_0000.wav (attributes may follow), unlabelled "
    "evaluation clips valve/source_test/section_03_source_test_0000.wav (2021) or valve/test/section_03_0000.wav (2022 on)",
}
"""The folder layouts :func:`load_clips` understands, with example file names. Folders above the machine
type's folder (e.g. ``6_dB/valve/...``) become part of the machine type ("6_dB/valve")."""

_PATTERNS = {
    "anomaly_mini": [re.compile(r"(?:^|/)(?:(?P<split>train)_|(?P<split2>test)_(?P<label>normal|anomaly)_)\d+\.wav$")],
    "MIMII": [re.compile(r"(?:^|(?:^|/)(?P<machine_type>[^/]+)/)(?P<machine_id>id_\d+)/(?P<label>normal|abnormal)/[^/]+\.wav$")],
    "DCASE 2020": [re.compile(  # the label is missing in the evaluation set's test clips
        r"(?:^|(?:^|/)(?P<machine_type>[^/]+)/)(?P<split>train|test)/(?:(?P<label>normal|anomaly)_)?(?P<machine_id>id_\d+)_\d+\.wav$"
    )],
    "DCASE 2021+": [
        re.compile(  # the label is missing in 2021's evaluation set (section_03_source_test_0000.wav)
            r"(?:^|(?:^|/)(?P<machine_type>[^/]+)/(?:train|test|source_test|target_test)/)?"
            r"section_(?P<section>\d+)_(?P<domain>source|target)_(?P<split>train|test)_(?:(?P<label>normal|anomaly)_)?\d+[^/]*\.wav$"
        ),
        # the evaluation sets of 2022 and later name neither domain nor label: test/section_03_0000.wav
        re.compile(r"(?:^|(?:^|/)(?P<machine_type>[^/]+)/)(?P<split>test)/section_(?P<section>\d+)_\d+\.wav$"),
    ],
}


@dataclass
class Clips:
    """Equal-length mono clips of one folder, with what their file names say.

    Attributes:
        signals (np.ndarray): (n_clips, n_samples) float32 in [-1, 1].
        sr (int): Sample rate in Hz, the same for every clip.
        files (list[str]): Paths relative to the folder, sorted.
        split (np.ndarray): "train" or "test" per clip.
        label (np.ndarray): "normal" or "anomaly" per clip; "" for a test clip whose label
            neither its name nor a ground truth gives (a DCASE evaluation set).
        machine_type, machine_id, section, domain (np.ndarray): From the
            layout where it has them ("valve", "id_00", "00", "source"),
            else "". The machine type is the folder's name when the folder is a
            machine type's own (``dev/valve``), and carries the folders above it
            where there are some ("6_dB/valve").
        layout (str): A key of :data:`LAYOUTS`.
    """

    signals: np.ndarray
    sr: int
    files: list
    split: np.ndarray
    label: np.ndarray
    machine_type: np.ndarray
    machine_id: np.ndarray
    section: np.ndarray
    domain: np.ndarray
    layout: str

    def __len__(self):
        return len(self.files)

    @property
    def y(self):
        """The labels as integers (n_clips,): 1 = anomaly, 0 = normal or unlabelled."""
        return (self.label == "anomaly").astype(int)

    @property
    def duration(self):
        """Clip length in seconds."""
        return self.signals.shape[1] / self.sr

    def select(self, mask):
        """The clips where a boolean mask (or index array) is true, as a new :class:`Clips`."""
        mask = np.asarray(mask)
        return Clips(
            signals=self.signals[mask],
            sr=self.sr,
            files=list(np.asarray(self.files, dtype=object)[mask]),
            split=self.split[mask],
            label=self.label[mask],
            machine_type=self.machine_type[mask],
            machine_id=self.machine_id[mask],
            section=self.section[mask],
            domain=self.domain[mask],
            layout=self.layout,
        )

    @property
    def train(self):
        """The training clips (all normal)."""
        return self.select(self.split == "train")

    @property
    def test(self):
        """The test clips (normal and anomalous)."""
        return self.select(self.split == "test")


def parse_name(relative_path):
    """Read split, label and machine fields from a clip's path in one of :data:`LAYOUTS`.

    Args:
        relative_path (str): Path relative to the data folder, with "/" separators.

    Returns:
        tuple[str, dict] | None: The layout name and a dict with the keys
        split ("train", "test" or "" for MIMII, which has no split), label
        ("normal", "anomaly", or "" for an unlabelled test clip; training clips
        are normal), machine_type (with the folders above it: "6_dB/valve"),
        machine_id, section and domain; None if no layout matches.
    """
    for layout, patterns in _PATTERNS.items():
        for pattern in patterns:
            match = pattern.search(relative_path)
            if not match:
                continue
            fields = {k: v for k, v in match.groupdict().items() if v}
            split = fields.pop("split", "") or fields.pop("split2", "")
            label = {"anomaly": "anomaly", "abnormal": "anomaly", "normal": "normal"}.get(fields.get("label"), "" if split == "test" else "normal")
            machine_type = fields.get("machine_type", "")
            if machine_type and match.start("machine_type") > 0:  # the folders above the machine type's folder
                machine_type = relative_path[: match.start("machine_type")].rstrip("/") + "/" + machine_type
            return layout, {
                "split": split,
                "label": label,
                "machine_type": machine_type,
                "machine_id": fields.get("machine_id", ""),
                "section": fields.get("section", ""),
                "domain": fields.get("domain", ""),
            }
    return None


def read_wav(path, sr=None):
    """Read one WAV file as mono float32, downmixing multichannel audio by averaging channels.

    Averaging is what MIMII's own baseline does with its 8 microphones; it keeps
    the level of a signal that is the same on every channel.

    Args:
        path (str | Path): The WAV file.
        sr (int | None): Resample to this rate in Hz (soxr, via librosa);
            None keeps the file's rate.

    Returns:
        tuple[np.ndarray, int]: Samples (n_samples,) and the sample rate in Hz.

    Raises:
        AadError: The file is unreadable, corrupt or has no samples.
    """
    try:
        audio, file_sr = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile says "Format not recognised", "unknown format" and the like
        raise AadError(f"{path} is not a readable WAV file ({error}); replace it or remove it from the folder.") from None
    if audio.shape[0] == 0:
        raise AadError(f"{path} has no audio samples (an empty or header-only WAV); replace it or remove it from the folder.")
    audio = audio.mean(axis=1)
    if sr is not None and sr != file_sr:
        import librosa

        audio = librosa.resample(audio, orig_sr=file_sr, target_sr=sr)
        file_sr = sr
    return audio, int(file_sr)


def wav_files(folder, what="clips"):
    """Every WAV file below a folder, sorted by path; an error for people if the folder is missing or has none.

    Args:
        folder (Path): The data folder.
        what (str): What the files are, for the error ("clips", "recordings").

    Returns:
        list[pathlib.Path]: The files.
    """
    if not folder.is_dir():
        raise AadError(f"The folder {folder} does not exist; check the path, or call aadlib.fetch() to download a data set.")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not paths:
        raise AadError(f"The folder {folder} has no .wav files; point to the folder that holds the {what}.")
    return paths


def scan(folder, ground_truth=None):
    """Find every WAV file below a folder and read split, label and machine fields from its name.

    Reads no audio, so it is cheap on a folder of thousands of clips.

    Args:
        folder (str | Path): The data folder.
        ground_truth (str | Path | dict | None): Labels (and domains) of test clips whose names
            lack them (DCASE evaluation sets): DCASE's published ground-truth CSV file or a
            folder of them (see :func:`read_ground_truth`), or what that function returns.

    Returns:
        tuple[str, list[tuple[str, dict]]]: The layout (a key of :data:`LAYOUTS`) and, per
        file sorted by path, its path relative to the folder and the fields of
        :func:`parse_name` (MIMII gets the baseline's split, see :func:`load_clips`).
        A clip without a machine type in a layout that has machine types (the folder is
        the machine type's own, e.g. ``dev/valve``) gets the folder's name.

    Raises:
        AadError: Missing folder, no WAV files, a file in no known layout, several layouts,
            or a ground truth that names none of the test clips.
    """
    folder = Path(folder)
    paths = wav_files(folder)
    records, layouts = [], set()
    for path in paths:
        relative = path.relative_to(folder).as_posix()
        parsed = parse_name(relative)
        if parsed is None:
            known = "; ".join(f"{k}: {v}" for k, v in LAYOUTS.items())
            raise AadError(f"{relative} fits none of the known layouts ({known}); rename or move it.")
        layouts.add(parsed[0])
        records.append((relative, parsed[1]))
    if len(layouts) > 1:
        raise AadError(f"The folder {folder} mixes the layouts {', '.join(sorted(layouts))}; keep one layout per folder.")
    layout = layouts.pop()
    if layout != "anomaly_mini":
        for _, fields in records:
            fields["machine_type"] = fields["machine_type"] or folder.resolve().name
    if ground_truth is not None:
        _join_ground_truth(records, ground_truth, folder)
    if layout == "MIMII":
        _mimii_split(records)
    return layout, records


_GROUND_TRUTH_FILE = re.compile(r"^ground_truth_(?P<machine_type>.+?)_section_\d+_(?:(?:source|target)_)?test\.csv$")


def read_ground_truth(path):
    """Labels and domains of unlabelled test clips, from the ground truth DCASE publishes after a challenge.

    The formats (of the task's evaluator repositories):

    - DCASE 2020, ``eval_data_list.csv``: a line with a machine type alone ("ToyCar"), then one line
      per test clip of that type: file name, its name with the label, label (0 normal, 1 anomaly),
      e.g. ``id_05_00000000.wav,normal_id_05_00000000.wav,0`` (y-kawagu/dcase2020_task2_evaluator).
    - DCASE 2021 and later, one file per machine type and section, named
      ``ground_truth_<type>_section_<xx>_<source|target>_test.csv`` (2021) or
      ``ground_truth_<type>_section_<xx>_test.csv`` (2022 on), with lines ``file name,label``. In
      a folder named ``ground_truth_domain`` the second column is the domain instead (0 source,
      1 target; 2022 on: the clip names lack it). Files under ``ground_truth_attributes`` are ignored
      (y-kawagu/dcase2021_task2_evaluator, nttcslab/dcase2023_task2_evaluator).

    Args:
        path (str | Path): One such CSV file, or a folder searched for them (e.g. a clone of the
            evaluator repository, with its ``ground_truth_data`` and ``ground_truth_domain``).

    Returns:
        dict: (machine type, file name) -> {"label": "normal" | "anomaly", "domain": "source" | "target"}
        (the keys the files give). The machine type is "" where a file names none.

    Raises:
        AadError: Missing path, an unreadable file, a value other than 0 or 1, or no ground truth at all.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.csv") if "ground_truth_attributes" not in p.parts)
    elif path.is_file():
        files = [path]
    else:
        raise AadError(f"The ground truth {path} does not exist; give DCASE's ground-truth CSV file or the folder that holds them.")
    truth = {}
    for file in files:
        try:
            with open(file, newline="") as f:
                rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise AadError(f"{file} is not a readable CSV file ({error}); give DCASE's ground-truth CSV files.") from None
        named = _GROUND_TRUTH_FILE.match(file.name)
        machine_type = named["machine_type"] if named else ""
        key = "domain" if named and file.parent.name == "ground_truth_domain" else "label"
        values = ("source", "target") if key == "domain" else ("normal", "anomaly")
        for line, row in enumerate(rows, 1):
            row = [cell for cell in row if cell]
            if len(row) == 1 and not named:  # eval_data_list.csv: a machine type's line
                machine_type = row[0]
            if len(row) < 2 or not row[0].lower().endswith(".wav"):  # empty lines, machine types, a header
                continue
            if row[-1] not in ("0", "1"):
                raise AadError(f"{file}, line {line}: the {key} of {row[0]} is {row[-1]!r}, not 0 or 1; give DCASE's ground-truth CSV files.")
            truth.setdefault((machine_type, row[0]), {})[key] = values[int(row[-1])]
    if not truth:
        raise AadError(f"{path} holds no ground truth in DCASE's formats (eval_data_list.csv, ground_truth_<type>_section_<xx>_test.csv); "
                       "give the ground truth of the evaluation set.")
    return truth


def _join_ground_truth(records, ground_truth, folder):
    """Give unlabelled test clips the label (and domain) the ground truth has for their machine type and name."""
    truth = ground_truth if isinstance(ground_truth, dict) else read_ground_truth(ground_truth)
    matched = 0
    for relative, fields in records:
        name = relative.rsplit("/", 1)[-1]
        found = truth.get((fields["machine_type"].rsplit("/", 1)[-1], name)) or truth.get(("", name))
        if fields["split"] != "test" or not found:
            continue
        matched += 1
        fields["label"] = fields["label"] or found.get("label", "")
        fields["domain"] = fields["domain"] or found.get("domain", "")
    if not matched:
        raise AadError(f"The ground truth {ground_truth} names none of the test clips in {folder}; "
                       "give the ground truth of this evaluation set.")


def load_clips(folder, sr=None, ground_truth=None):
    """Load every WAV file below a folder, with split and label read from the file names.

    The layouts are those of :data:`LAYOUTS`. MIMII has no train/test split in
    its names; it gets the split of the MIMII baseline: for each machine, the
    test set holds all anomalous clips and as many normal clips (the first ones
    by name), the training set holds the remaining normal clips.

    Args:
        folder (str | Path): A folder such as the one :func:`fetch` returns.
        sr (int | None): Resample every clip to this rate in Hz; None requires
            all clips to share one rate.
        ground_truth (str | Path | dict | None): Labels of unlabelled test clips (see :func:`scan`).

    Returns:
        Clips: The clips, sorted by path.

    Raises:
        AadError: Missing folder, no WAV files, a file in no known layout,
            files of several layouts, an unreadable or empty file, or clips
            whose sample rates or lengths differ (naming the file).

    Notebook: 00_task_and_data, 01_distribution_modelling.
    """
    folder = Path(folder)
    layout, records = scan(folder, ground_truth)
    paths = [folder / relative for relative, _ in records]

    signals, first_sr, first_len = [], None, None
    for (relative, _), path in zip(records, paths):
        audio, rate = read_wav(path, sr=sr)
        if first_sr is None:
            first_sr, first_len = rate, len(audio)
        elif rate != first_sr:
            raise AadError(
                f"{relative} is sampled at {rate} Hz but {records[0][0]} at {first_sr} Hz; "
                f"pass sr={first_sr} to resample every clip to one rate."
            )
        elif len(audio) != first_len:
            raise AadError(
                f"{relative} has {len(audio)} samples but {records[0][0]} has {first_len}; "
                "clips must all have one length: trim or pad them first."
            )
        signals.append(audio)

    column = lambda key: np.array([fields[key] for _, fields in records], dtype=str)  # noqa: E731
    return Clips(
        signals=np.stack(signals),
        sr=first_sr,
        files=[relative for relative, _ in records],
        split=column("split"),
        label=column("label"),
        machine_type=column("machine_type"),
        machine_id=column("machine_id"),
        section=column("section"),
        domain=column("domain"),
        layout=layout,
    )


def _mimii_split(records):
    machines = {(f["machine_type"], f["machine_id"]) for _, f in records}
    for machine in machines:
        mine = [f for _, f in records if (f["machine_type"], f["machine_id"]) == machine]
        n_anomalies = sum(f["label"] == "anomaly" for f in mine)
        normals = [f for f in mine if f["label"] == "normal"]  # records are sorted by path already
        for i, fields in enumerate(normals):
            fields["split"] = "test" if i < n_anomalies else "train"
        for fields in mine:
            if fields["label"] == "anomaly":
                fields["split"] = "test"
