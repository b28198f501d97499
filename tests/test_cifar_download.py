"""`workbook.py data cifar10` (cs231n_utils/download.py) against a local HTTP server.

The server (http.server in a thread on 127.0.0.1, with Range support that a test can turn
off, and a switch that drops the connection part-way) serves a small CIFAR-10-shaped archive
the test builds, with its own MD5. No real network is used.
"""
import hashlib
import importlib.util
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import cifar_batch_writer as W
from cs231n_utils import download as D
from cs231n_utils.data import load_cifar10

ROOT = Path(__file__).resolve().parent.parent


def _tar(members) -> bytes:
    """A .tar.gz of `members`: (TarInfo or name, bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if isinstance(info, str):
                info = tarfile.TarInfo(info)
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _batches():
    """Six small batches in the published layout: name -> (bytes, data, labels)."""
    out = {}
    for k, name in enumerate(D.BATCH_NAMES):
        data, labels = W.random_batch(3, seed=k)
        out[name] = (W.py2_batch(data, labels), data, labels)
    return out


BATCHES = _batches()
GOOD_MEMBERS = ([(tarfile.TarInfo(D.FOLDER_NAME), None)]
                + [(f"{D.FOLDER_NAME}/{n}", b) for n, (b, _, _) in BATCHES.items()]
                + [(f"{D.FOLDER_NAME}/batches.meta", b"meta"), (f"{D.FOLDER_NAME}/readme.html", b"<p>hi</p>")])
GOOD_MEMBERS[0][0].type = tarfile.DIRTYPE
# pad with incompressible bytes so the archive is big enough to interrupt part-way
GOOD_MEMBERS.append((f"{D.FOLDER_NAME}/padding.bin", np.random.default_rng(0).bytes(300_000)))
GOOD = _tar(GOOD_MEMBERS)
GOOD_MD5 = hashlib.md5(GOOD).hexdigest()


class Server:
    """Serves `files` (path -> bytes). `ranges`: honour Range; `cut`: on the next `cuts`
    requests send only this many bytes of the body, then close the connection."""

    def __init__(self, files):
        self.files, self.ranges, self.cut, self.cuts, self.log = files, True, None, 0, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.log.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start, status = 0, 200
                rng = self.headers.get("Range")
                if rng and server.ranges:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Connection", "close")
                self.end_headers()
                payload = body[start:]
                if server.cut is not None and server.cuts > 0:
                    server.cuts -= 1
                    payload = payload[:server.cut]
                self.wfile.write(payload)
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with Server({"/good.tar.gz": GOOD}) as srv:
        yield srv


def _get(srv, dest, name="/good.tar.gz", md5=GOOD_MD5, **kw):
    messages = []
    kw.setdefault("retries", 0)
    folder = D.download_cifar10(dest, url=srv.url + name, md5=md5, progress=False, timeout=10,
                                say=messages.append, **kw)
    return folder, messages


def _assert_loads(folder):
    data = load_cifar10(folder, dtype=np.uint8)
    assert data["X_train"].shape == (15, 3, 32, 32) and data["X_test"].shape == (3, 3, 32, 32)
    expected = np.concatenate([BATCHES[n][1] for n in D.BATCH_NAMES[:5]])
    assert np.array_equal(data["X_train"].reshape(15, 3072), expected)
    assert data["y_test"].tolist() == BATCHES["test_batch"][2]


def _leftovers(dest):
    return sorted(p.name for p in Path(dest).iterdir())


# ---------------------------------------------------------------------------- good path

def test_good_download_extracts_and_loads(server, tmp_path):
    folder, messages = _get(server, tmp_path)
    assert folder == tmp_path / D.FOLDER_NAME
    _assert_loads(folder)
    assert (folder / "readme.html").read_bytes() == b"<p>hi</p>"
    assert _leftovers(tmp_path) == [D.FOLDER_NAME]          # archive removed, no temp folder
    assert server.log == [("/good.tar.gz", None)]
    # a second run finds the data and makes no request
    again, messages = _get(server, tmp_path)
    assert again == folder and len(server.log) == 1 and "already in" in messages[-1]


def test_keep_archive_and_reuse_without_network(server, tmp_path):
    _get(server, tmp_path, keep_archive=True)
    assert (tmp_path / D.ARCHIVE_NAME).read_bytes() == GOOD
    import shutil
    shutil.rmtree(tmp_path / D.FOLDER_NAME)
    folder, messages = _get(server, tmp_path)              # archive present, MD5 right: no request
    assert len(server.log) == 1 and any("already downloaded" in m for m in messages)
    _assert_loads(folder)


def test_usage_text_says_where_and_how():
    text = D.usage_text(Path("/x/cifar-10-batches-py"))
    assert "/x/cifar-10-batches-py" in text and "load_cifar10(" in text and "CIFAR10_DIR" in text


# ---------------------------------------------------------------------------- interruptions

def test_interrupted_download_is_resumed_on_the_next_run(server, tmp_path):
    server.cut, server.cuts = len(GOOD) // 3, 1
    with pytest.raises(D.DownloadError, match="interrupted.*run the same command again to resume"):
        _get(server, tmp_path)
    part = tmp_path / (D.ARCHIVE_NAME + ".part")
    assert part.stat().st_size == len(GOOD) // 3
    assert not (tmp_path / D.FOLDER_NAME).exists()
    folder, messages = _get(server, tmp_path)
    assert server.log[-1] == ("/good.tar.gz", f"bytes={len(GOOD) // 3}-")   # resumed, not restarted
    assert any("resuming" in m for m in messages)
    _assert_loads(folder)
    assert not part.exists()


def test_retries_resume_within_one_run(server, tmp_path):
    server.cut, server.cuts = len(GOOD) // 4, 3
    folder, messages = _get(server, tmp_path, retries=3)
    assert [r for _, r in server.log] == [None] + [f"bytes={k * (len(GOOD) // 4)}-" for k in (1, 2, 3)]
    assert sum("connection lost" in m for m in messages) == 3
    _assert_loads(folder)


def test_truncated_partial_file_is_completed(server, tmp_path):
    (tmp_path / (D.ARCHIVE_NAME + ".part")).write_bytes(GOOD[:1000])
    folder, _ = _get(server, tmp_path)
    assert server.log == [("/good.tar.gz", "bytes=1000-")]
    _assert_loads(folder)


def test_server_that_ignores_range_restarts_from_zero(server, tmp_path):
    server.ranges = False
    (tmp_path / (D.ARCHIVE_NAME + ".part")).write_bytes(b"garbage that is not a prefix")
    folder, messages = _get(server, tmp_path)
    assert server.log == [("/good.tar.gz", "bytes=28-")]
    assert any("does not support resuming" in m for m in messages)
    _assert_loads(folder)


def test_complete_partial_file_gets_416_and_is_checked(server, tmp_path):
    (tmp_path / (D.ARCHIVE_NAME + ".part")).write_bytes(GOOD)
    folder, _ = _get(server, tmp_path)
    assert server.log == [("/good.tar.gz", f"bytes={len(GOOD)}-")]
    _assert_loads(folder)


# ---------------------------------------------------------------------------- checksums and errors

def test_wrong_checksum_quarantines_the_file(server, tmp_path):
    with pytest.raises(D.ChecksumError, match=f"MD5 is {GOOD_MD5}, but the published one is 0+.*moved to") as err:
        _get(server, tmp_path, md5="0" * 32)
    bad = tmp_path / (D.ARCHIVE_NAME + ".bad-md5")
    assert str(bad) in str(err.value) and bad.read_bytes() == GOOD
    assert _leftovers(tmp_path) == [bad.name]               # nothing extracted, no .part


def test_corrupted_partial_file_fails_the_checksum(server, tmp_path):
    broken = bytearray(GOOD)
    broken[len(GOOD) // 2] ^= 0xFF
    (tmp_path / (D.ARCHIVE_NAME + ".part")).write_bytes(bytes(broken))
    with pytest.raises(D.ChecksumError, match="damaged"):
        _get(server, tmp_path)
    folder, _ = _get(server, tmp_path)                      # the next run downloads afresh
    _assert_loads(folder)


def test_http_errors_and_bad_urls(server, tmp_path):
    with pytest.raises(D.DownloadError, match="404"):
        _get(server, tmp_path, name="/missing.tar.gz")
    with pytest.raises(D.DownloadError, match="only http"):
        D.download_cifar10(tmp_path, url="file:///etc/passwd", md5=GOOD_MD5, progress=False, say=print)
    with pytest.raises(D.DownloadError, match="max_bytes"):
        _get(server, tmp_path, max_bytes=1000)


def test_incomplete_folder_is_reported(tmp_path):
    (tmp_path / D.FOLDER_NAME).mkdir()
    (tmp_path / D.FOLDER_NAME / "data_batch_1").write_bytes(b"x")
    with pytest.raises(D.DownloadError, match="lacks data_batch_2.*delete that folder"):
        D.download_cifar10(tmp_path, url="http://127.0.0.1:9/none", md5=GOOD_MD5, progress=False)


# ---------------------------------------------------------------------------- hostile archives

def _info(name, kind, **attrs):
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def _serve_hostile(server, tmp_path, members, **kw):
    body = _tar(members)
    server.files["/evil.tar.gz"] = body
    dest = tmp_path / "dest"
    with pytest.raises(D.DownloadError) as err:
        _get(server, dest, name="/evil.tar.gz", md5=hashlib.md5(body).hexdigest(), **kw)
    # nothing written outside, nothing half-extracted inside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]
    assert [p for p in dest.iterdir() if p.name != D.ARCHIVE_NAME] == []
    return err.value


GOOD_PREFIX = GOOD_MEMBERS[:3]

HOSTILE_ARCHIVES = {
    "dotdot": ([("../evil.txt", b"x")], "contains '..'"),
    "dotdot_deep": ([(f"{D.FOLDER_NAME}/../../evil.txt", b"x")], "contains '..'"),
    "absolute": ([("/tmp/evil_cifar_abs.txt", b"x")], "absolute path"),
    "symlink": ([(_info(f"{D.FOLDER_NAME}/data_batch_1", tarfile.SYMTYPE, linkname="/etc/passwd"), None)],
                "symbolic link"),
    "symlink_dir_then_file": ([(_info("link", tarfile.SYMTYPE, linkname=".."), None), ("link/evil.txt", b"x")],
                              "symbolic link"),
    "hardlink": ([(_info(f"{D.FOLDER_NAME}/test_batch", tarfile.LNKTYPE, linkname="/etc/passwd"), None)],
                 "hard link"),
    "char_device": ([(_info("dev", tarfile.CHRTYPE, devmajor=1, devminor=3), None)], "device"),
    "fifo": ([(_info("pipe", tarfile.FIFOTYPE), None)], "device or FIFO"),
    "block_device": ([(_info("blk", tarfile.BLKTYPE, devmajor=8, devminor=0), None)], "device"),
    "sparse": ([(_info("sparse.bin", tarfile.GNUTYPE_SPARSE, size=0), None)], "not a regular file"),
    "duplicate": ([("a.txt", b"x"), ("a.txt", b"y")], "appears twice"),
    "backslash": ([("..\\evil.txt", b"x")], "backslash"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ARCHIVES))
def test_hostile_archive_members_are_refused(server, tmp_path, name):
    members, fragment = HOSTILE_ARCHIVES[name]
    err = _serve_hostile(server, tmp_path, GOOD_PREFIX + members)
    assert isinstance(err, D.UnsafeArchiveError) and fragment in str(err)
    assert not Path("/tmp/evil_cifar_abs.txt").exists()


def test_archive_limits(server, tmp_path, monkeypatch):
    monkeypatch.setattr(D, "MAX_MEMBER_BYTES", 10_000)
    err = _serve_hostile(server, tmp_path, GOOD_PREFIX + [("big.bin", bytes(20_000))])
    assert isinstance(err, D.UnsafeArchiveError) and "max_member_bytes" in str(err)


def test_safe_extract_limits_directly(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar([(f"f{k}", b"x") for k in range(5)]))
    with pytest.raises(D.UnsafeArchiveError, match="more than 3 members"):
        D.safe_extract(archive, tmp_path / "out", max_members=3)
    archive.write_bytes(_tar([("f1", bytes(600)), ("f2", bytes(600))]))
    with pytest.raises(D.UnsafeArchiveError, match="max_total_bytes"):
        D.safe_extract(archive, tmp_path / "out", max_total_bytes=1000)
    assert list((tmp_path / "out").iterdir()) == []
    archive.write_bytes(GOOD[:len(GOOD) // 2])             # a damaged gzip stream
    with pytest.raises(D.DownloadError, match="damaged"):
        D.safe_extract(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_archive_without_the_batches_is_explained(server, tmp_path):
    err = _serve_hostile(server, tmp_path, [("readme.txt", b"hello")])
    assert "not the CIFAR-10 python version" in str(err)


def test_archive_with_a_hostile_batch_is_refused(server, tmp_path):
    members = [(f"{D.FOLDER_NAME}/{n}", BATCHES[n][0]) for n in D.BATCH_NAMES[:5]]
    members.append((f"{D.FOLDER_NAME}/test_batch", b"\x80\x02cos\nsystem\n)R."))
    err = _serve_hostile(server, tmp_path, members)
    assert "test_batch is not a CIFAR-10 batch" in str(err) and "refusing to load os.system" in str(err)


# ---------------------------------------------------------------------------- the command

def test_command_line(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(D, "CIFAR10_MD5", GOOD_MD5)
    rc = D.main(["cifar10", "--dir", str(tmp_path), "--url", server.url + "/good.tar.gz", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and f"CIFAR-10 is in {tmp_path / D.FOLDER_NAME}" in out and "load_cifar10(" in out
    monkeypatch.setattr(D, "CIFAR10_MD5", "f" * 32)
    rc = D.main(["cifar10", "--dir", str(tmp_path / "other"), "--url", server.url + "/good.tar.gz", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 1 and "error: the downloaded file's MD5" in out


def test_workbook_has_a_thin_data_command():
    spec = importlib.util.spec_from_file_location("workbook_for_data_test", ROOT / "workbook.py")
    wb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wb)
    assert "data" in wb.COMMANDS and "workbook.py data cifar10" in wb.__doc__
    assert "/data/" in (ROOT / ".gitignore").read_text().splitlines()
    assert D.CIFAR10_MD5 == "c58f30108f718f92721af3b95e74349a"
    assert D.CIFAR10_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def test_ctrl_c_says_how_to_resume(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(D, "download_cifar10", interrupted)
    assert D.main(["cifar10", "--dir", str(tmp_path), "--no-progress"]) == 130
    assert "Run the same command again to resume" in capsys.readouterr().out
