"""Download CIFAR-10 (`python3 workbook.py data cifar10`): resumable, checksummed, safely extracted.

    python3 workbook.py data cifar10                 # into <repo>/data/ (gitignored)
    python3 workbook.py data cifar10 --dir ~/datasets

Steps, each one safe to interrupt and re-run:

1. `fetch` downloads the archive into `<name>.part` with a progress bar (tqdm). An interrupted
   download is resumed with an HTTP Range request; a server that ignores Range sends the whole
   file again, and the partial file is restarted from byte 0.
2. The finished file's MD5 must equal the published one (CIFAR10_MD5); otherwise it is moved
   to `<name>.bad-md5` (never used) and `ChecksumError` says so.
3. `safe_extract` unpacks into a fresh temporary folder: regular files and folders only
   (symlinks, hard links, devices, absolute paths and `..` refused), at most MAX_MEMBERS
   members and MAX_MEMBER_BYTES / MAX_EXTRACT_BYTES bytes, files opened with O_EXCL (and
   O_NOFOLLOW), then the batch folder is moved into place in one rename.
4. One batch is read back with `cs231n_utils.cifar.load_cifar_batch` and the command prints
   where the data is and how to load it.

The URL, checksum and destination are parameters, so the tests serve their own small archive
from 127.0.0.1.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Callable

__all__ = ["CIFAR10_URL", "CIFAR10_MD5", "ARCHIVE_NAME", "FOLDER_NAME", "BATCH_NAMES",
           "MAX_DOWNLOAD_BYTES", "MAX_MEMBERS", "MAX_MEMBER_BYTES", "MAX_EXTRACT_BYTES",
           "DownloadError", "ChecksumError", "UnsafeArchiveError", "default_data_dir", "file_md5",
           "fetch", "safe_extract", "download_cifar10", "main"]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"   # published on https://www.cs.toronto.edu/~kriz/cifar.html
CIFAR10_BYTES = 170_498_071                          # the archive's size, for the message only
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
BATCH_NAMES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)

MAX_DOWNLOAD_BYTES = 256 << 20      # the archive is 163 MiB
MAX_MEMBERS = 64                    # it has 9 members
MAX_MEMBER_BYTES = 80 << 20         # its largest member is 30 MiB
MAX_EXTRACT_BYTES = 400 << 20       # all members: 178 MiB
_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """The download or extraction did not finish; the message says what to do."""


class ChecksumError(DownloadError):
    """The downloaded file's MD5 is not the published one (the file was set aside)."""


class UnsafeArchiveError(DownloadError):
    """The archive has a member that could write outside its folder, or is too large."""


def default_data_dir() -> Path:
    """<repo>/data: where downloads go unless --dir says otherwise (listed in .gitignore)."""
    from .paths import REPO_ROOT
    return REPO_ROOT / "data"


def file_md5(path) -> str:
    """MD5 (hex) of a file's bytes, read in 1 MiB blocks."""
    from .paths import file_digest
    return file_digest(path, "md5")


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


# --------------------------------------------------------------------------------------------
# 1-2. download with resume, then the checksum
# --------------------------------------------------------------------------------------------

def _request_once(url: str, part: Path, *, max_bytes: int, progress: bool, timeout: float,
                  say: Callable[[str], None]) -> None:
    """One HTTP request that appends to (or restarts) `part`. Raises OSError-like errors when
    the connection breaks; the caller retries."""
    import urllib.error
    import urllib.request

    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "cs231n-cnn-workbook"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:      # nothing left to send: the part is complete (or too long)
            return
        raise
    with response:
        status = response.status
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if have and status == 206:
            m = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != have:
                say(f"the server resumed at the wrong place ({response.headers.get('Content-Range')}); "
                    f"starting again from byte 0")
                part.unlink()
                return _request_once(url, part, max_bytes=max_bytes, progress=progress, timeout=timeout, say=say)
            mode = "ab"
            say(f"resuming {part.name} at {_mib(have)}")
        elif status == 200:
            if have:
                say(f"the server does not support resuming (it ignored the Range request); "
                    f"starting {part.name} again from byte 0")
            have, mode = 0, "wb"
        else:
            raise DownloadError(f"unexpected HTTP status {status} from {url}")
        total = have + length if length is not None else None
        if total is not None and total > max_bytes:
            raise DownloadError(f"{url} announces {_mib(total)}, more than the limit of {_mib(max_bytes)} "
                                f"(max_bytes); is the URL right?")
        from tqdm.auto import tqdm
        with open(part, mode) as fh, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                          unit_divisor=1024, desc=part.name.replace(".part", ""),
                                          disable=not progress, file=sys.stderr) as bar:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                have += len(chunk)
                if have > max_bytes:
                    raise DownloadError(f"{url} sent more than {_mib(max_bytes)} (max_bytes); stopped. "
                                        f"Is the URL right? (delete {part})")
                fh.write(chunk)
                bar.update(len(chunk))
        if total is not None and have < total:
            raise ConnectionError(f"the connection closed after {_mib(have)} of {_mib(total)}")


def fetch(url: str, dest_file, md5: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES, progress: bool = True,
          timeout: float = 60.0, retries: int = 3, say: Callable[[str], None] = print) -> Path:
    """Download `url` to `dest_file` (via `dest_file.part`, resumed after an interruption) and
    check its MD5 against `md5`. Returns `dest_file`.

    A `dest_file` that exists with the right MD5 is reused without any network access.
    Raises ChecksumError (the file is moved to `<dest_file>.bad-md5`) or DownloadError (the
    partial file is kept: running again resumes it).
    """
    import http.client
    import urllib.error

    dest_file = Path(dest_file)
    if not re.match(r"https?://", url):
        raise DownloadError(f"only http:// and https:// URLs are downloaded, got {url!r}")
    dest_file.parent.mkdir(parents=True, exist_ok=True)
    part = dest_file.with_name(dest_file.name + ".part")
    if dest_file.exists():
        if file_md5(dest_file) == md5:
            say(f"{dest_file} is already downloaded (MD5 checked)")
            return dest_file
        say(f"{dest_file} exists but its MD5 is wrong: downloading it again")
        os.replace(dest_file, part)          # its bytes may still be a valid prefix; the MD5 decides
    errors = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException, OSError)
    for attempt in range(retries + 1):
        try:
            _request_once(url, part, max_bytes=max_bytes, progress=progress, timeout=timeout, say=say)
            break
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == retries:
                raise DownloadError(f"the server answered {err.code} {err.reason} for {url}; check the URL "
                                    f"(the official one is {CIFAR10_URL})") from None
            say(f"server error {err.code}; trying again ({attempt + 1} of {retries})")
        except errors as err:
            have = part.stat().st_size if part.exists() else 0
            if attempt == retries:
                raise DownloadError(f"the download was interrupted at {_mib(have)} ({type(err).__name__}: "
                                    f"{err}); run the same command again to resume from there (the partial "
                                    f"file is {part})") from None
            say(f"connection lost at {_mib(have)} ({err}); resuming ({attempt + 1} of {retries})")
    actual = file_md5(part)
    if actual != md5:
        bad = dest_file.with_name(dest_file.name + ".bad-md5")
        os.replace(part, bad)
        raise ChecksumError(f"the downloaded file's MD5 is {actual}, but the published one is {md5}: the file "
                            f"is damaged or is not the CIFAR-10 archive. It was moved to {bad} and will not be "
                            f"used (delete it). Run the same command again to download it afresh; if this "
                            f"happens again, a proxy or the URL ({url}) serves another file")
    os.replace(part, dest_file)
    return dest_file


# --------------------------------------------------------------------------------------------
# 3. extraction that cannot write outside its folder
# --------------------------------------------------------------------------------------------

def _member_parts(name: str, archive: str) -> tuple:
    if not name or "\x00" in name or "\\" in name:
        raise UnsafeArchiveError(f"{archive}: member name {name!r} is empty or has a NUL or backslash; refused")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path (it would be written "
                                 f"outside the data folder); refused, nothing was extracted")
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} contains '..' (it would be written outside "
                                 f"the data folder); refused, nothing was extracted")
    return parts


def safe_extract(archive, dest_dir, *, max_members: int = MAX_MEMBERS, max_member_bytes: int = MAX_MEMBER_BYTES,
                 max_total_bytes: int = MAX_EXTRACT_BYTES) -> Path:
    """Extract the .tar.gz `archive` into a new temporary folder inside `dest_dir` and return
    that folder (the caller moves what it needs into place and deletes the rest).

    Only regular files and folders; UnsafeArchiveError for a symlink, hard link, device, FIFO,
    sparse file, absolute or `..` path, duplicate name, or more than the limits (members,
    bytes per member, bytes in total, counted from the data actually written). On any error
    the temporary folder is removed, so nothing is left behind.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    total = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > max_members:
                    raise UnsafeArchiveError(f"{archive.name} has more than {max_members} members "
                                             f"(max_members); refused")
                parts = _member_parts(member.name, archive.name)
                kind = ("a symbolic link" if member.issym() else "a hard link" if member.islnk() else
                        "a device or FIFO" if member.isdev() else None)
                if kind:
                    raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is {kind}; links and "
                                             f"devices are refused (they could point outside the folder)")
                if not parts:
                    continue
                target = tmp.joinpath(*parts)
                try:
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if not member.isreg() or member.type == tarfile.GNUTYPE_SPARSE:
                        raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is not a regular "
                                                 f"file or folder; refused")
                    if member.size > max_member_bytes:
                        raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is {_mib(member.size)}, "
                                                 f"more than {_mib(max_member_bytes)} (max_member_bytes); refused")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(target, flags, 0o644)
                except FileExistsError:
                    raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} appears twice or clashes "
                                             f"with a folder; refused") from None
                source = tar.extractfile(member)
                written = 0
                with os.fdopen(fd, "wb") as out:
                    for block in iter(lambda: source.read(_CHUNK), b""):
                        written += len(block)
                        total += len(block)
                        if written > member.size or total > max_total_bytes:
                            raise UnsafeArchiveError(f"{archive.name}: more than {_mib(max_total_bytes)} "
                                                     f"(max_total_bytes) or a member larger than it says; refused")
                        out.write(block)
                if written != member.size:
                    raise DownloadError(f"{archive.name}: member {member.name!r} is truncated; the archive is "
                                        f"damaged (delete it and download again)")
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, DownloadError):
            raise
        raise DownloadError(f"{archive.name} could not be extracted ({type(err).__name__}: {err}); the "
                            f"archive is damaged: delete it and download again") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


# --------------------------------------------------------------------------------------------
# 4. the whole command
# --------------------------------------------------------------------------------------------

def _missing(folder: Path) -> list:
    return [n for n in BATCH_NAMES if not (folder / n).is_file()]


def download_cifar10(dest=None, *, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5, progress: bool = True,
                     keep_archive: bool = False, timeout: float = 60.0, retries: int = 3,
                     max_bytes: int = MAX_DOWNLOAD_BYTES, say: Callable[[str], None] = print) -> Path:
    """Download, check and extract CIFAR-10 into `dest` (default `default_data_dir()`); returns
    the batch folder `dest/cifar-10-batches-py` (pass it to `load_cifar10`).

    Nothing is downloaded when that folder already holds the six batches. The archive is
    deleted after a successful extraction unless `keep_archive`. Raises DownloadError
    (ChecksumError, UnsafeArchiveError) with what happened and what to do.
    """
    from .cifar import CifarFormatError, load_cifar_batch

    dest = Path(dest) if dest is not None else default_data_dir()
    folder = dest / FOLDER_NAME
    if folder.is_dir():
        missing = _missing(folder)
        if not missing:
            say(f"CIFAR-10 is already in {folder}")
            return folder
        raise DownloadError(f"{folder} exists but lacks {', '.join(missing)}; delete that folder and run "
                            f"the command again")
    archive = fetch(url, dest / ARCHIVE_NAME, md5, max_bytes=max_bytes, progress=progress,
                    timeout=timeout, retries=retries, say=say)
    say(f"extracting {archive.name} ...")
    tmp = safe_extract(archive, dest, max_members=MAX_MEMBERS, max_member_bytes=MAX_MEMBER_BYTES,
                       max_total_bytes=MAX_EXTRACT_BYTES)
    try:
        extracted = tmp / FOLDER_NAME
        missing = _missing(extracted) if extracted.is_dir() else list(BATCH_NAMES)
        if missing:
            raise DownloadError(f"{archive.name} has no {FOLDER_NAME}/{missing[0]}: it is not the CIFAR-10 "
                                f"python version (its MD5 matched {md5}; check the URL and checksum)")
        try:
            load_cifar_batch(extracted / "test_batch")    # the parser accepts it
        except CifarFormatError as err:
            raise DownloadError(f"the extracted test_batch is not a CIFAR-10 batch ({err}); nothing was "
                                f"kept") from None
        os.replace(extracted, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not keep_archive:
        archive.unlink()
    return folder


def usage_text(folder: Path) -> str:
    """What to tell the learner once the data is there."""
    return (f"CIFAR-10 is in {folder}\n"
            f"Load it in a notebook or script with:\n"
            f"    from cs231n_utils.data import load_cifar10\n"
            f"    data = load_cifar10({str(folder)!r})   # X_train (50000, 3, 32, 32), y_train, X_test, y_test\n"
            f"or set the environment variable CIFAR10_DIR={folder} and call load_cifar10()."
            + (" Here (the repository's data/ folder) load_cifar10() also finds it with no argument."
               if folder == default_data_dir() / FOLDER_NAME else ""))


def main(argv=None) -> int:
    """`python3 workbook.py data cifar10 [--dir DIR] [--keep-archive] [--no-progress] [--url URL]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="workbook.py data",
                                     description="Download a data set (CIFAR-10, python version, 163 MiB), "
                                                 "check its published MD5 and extract it safely.")
    parser.add_argument("dataset", choices=["cifar10"], help="the data set to download")
    parser.add_argument("--dir", type=Path, default=None,
                        help=f"folder to put it in (default: {default_data_dir()}, ignored by git)")
    parser.add_argument("--keep-archive", action="store_true", help="keep the .tar.gz after extracting")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--url", default=CIFAR10_URL, help="a mirror of the archive (its MD5 must still "
                                                            "be the published one)")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(f"[workbook] {message}", flush=True)

    dest = args.dir.expanduser().resolve() if args.dir else default_data_dir()
    say(f"CIFAR-10 python version ({_mib(CIFAR10_BYTES)}) from {args.url} into {dest}")
    try:
        folder = download_cifar10(dest, url=args.url, md5=CIFAR10_MD5, progress=not args.no_progress,
                                  keep_archive=args.keep_archive, say=say)
    except KeyboardInterrupt:
        say(f"interrupted. Run the same command again to resume the download where it stopped "
            f"(the partial file is in {dest}).")
        return 130
    except (DownloadError, ValueError) as err:
        say(f"error: {err}")
        return 1
    for line in usage_text(folder).splitlines():
        say(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
