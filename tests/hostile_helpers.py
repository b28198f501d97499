"""Run hostile cases in a separate Python process with bounded memory and time.

Each test module of issue 13 (tests/test_hostile_*.py) hands a batch of cases to `run_cases`:
one child process, with an address-space limit (resource.setrlimit RLIMIT_AS) and one BLAS
thread, runs a set-up snippet and then every case (a snippet of Python), each under its own
alarm. The child reports one JSON line per case: the exception type and message, or "ok" and
the case's `result`. A case that crashes the child (segfault, abort) is reported with the exit
code; every case after it counts as not run. The tests then assert the type and message of
each error, so a MemoryError, a RecursionError or a timeout is a failure, not a pass.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

LIMIT_BYTES = 600 << 20      # address space of the child; importing numpy + the package needs ~150 MiB
CASE_SECONDS = 20            # alarm for one case
TOTAL_SECONDS = 300          # the whole child

_CHILD = textwrap.dedent("""
    import json, resource, signal, sys, time, traceback
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))

    class CaseTimeout(BaseException):
        pass

    def _alarm(signum, frame):
        raise CaseTimeout("the case ran longer than {case_seconds} s")

    signal.signal(signal.SIGALRM, _alarm)
    spec = json.loads(sys.stdin.read())
    namespace = {{}}
    exec(spec["setup"], namespace)
    for name, code in spec["cases"].items():
        print(json.dumps({{"name": name, "status": "started"}}), flush=True)
        local = dict(namespace)
        start = time.perf_counter()
        signal.alarm({case_seconds})
        try:
            exec(code, local)
            out = {{"status": "ok", "result": repr(local.get("result"))[:2000]}}
        except BaseException as exc:
            out = {{"status": "error", "type": type(exc).__name__, "message": str(exc)[:4000],
                   "mro": [c.__name__ for c in type(exc).__mro__]}}
        finally:
            signal.alarm(0)
        out.update(name=name, seconds=time.perf_counter() - start)
        print(json.dumps(out), flush=True)
""")


def run_cases(setup: str, cases: dict, *, limit: int = LIMIT_BYTES, case_seconds: int = CASE_SECONDS,
              cwd=None) -> dict:
    """Run `cases` (name -> code) after `setup` in one bounded child; returns name -> result
    dict with "status" ("ok", "error", "crashed", "not run"), "type", "message", "mro",
    "result", and the child's "returncode"."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = _CHILD.format(limit=int(limit), case_seconds=int(case_seconds))
    try:
        proc = subprocess.run([sys.executable, "-c", code], input=json.dumps({"setup": setup, "cases": cases}),
                              capture_output=True, text=True, timeout=TOTAL_SECONDS, env=env, cwd=cwd)
        stdout, returncode, stderr = proc.stdout, proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        returncode, stderr = "timeout", ""
    results, started = {}, None
    for line in stdout.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if item.get("status") == "started":
            started = item["name"]
        else:
            results[item["name"]] = item
            started = None
    for name in cases:
        if name not in results:
            status = "crashed" if name == started else "not run"
            results[name] = {"name": name, "status": status, "type": None, "mro": [],
                             "message": f"child ended with {returncode}: {stderr[-2000:]}"}
        results[name]["returncode"] = returncode
    return results


def run_table(setup: str, refused: dict, accepted: dict, **kw) -> dict:
    """`run_cases` for a table of refused cases (name -> (code, *what to expect)) and one of
    accepted cases (name -> code)."""
    cases = {name: code for name, (code, *_) in refused.items()}
    cases.update(accepted)
    return run_cases(setup, cases, **kw)


def assert_refused(result: dict, error: str, *fragments: str) -> None:
    """The case ended in `error` (the class or one of its bases, by name) with every fragment
    (case-insensitive) in its message, inside the child's limits."""
    assert result["status"] == "error", f"{result['name']}: expected {error}, got {result}"
    assert error in result["mro"], f"{result['name']}: expected {error}, got {result['type']}: {result['message']}"
    assert result["type"] not in ("MemoryError", "RecursionError", "CaseTimeout"), result
    message = result["message"].lower()
    for fragment in fragments:
        assert fragment.lower() in message, f"{result['name']}: {fragment!r} not in {result['message']!r}"


def assert_ok(result: dict) -> None:
    assert result["status"] == "ok", f"{result['name']}: {result}"


def zip_bomb(path, entries: dict, zeros: int = 2 << 30) -> int:
    """Write a real zip whose first entry is a .npy header followed by `zeros` zero bytes,
    deflated to about zeros/1000 bytes (about 2 MB for 2 GiB); `entries` maps the entry name
    (e.g. "model/fc1.W.npy") to its .npy header bytes for the bombed entry, and to plain
    bytes for any further (stored) entries. Returns the file size."""
    import struct
    import zlib
    chunk = 64 << 20
    assert zeros % chunk == 0
    zero = bytes(chunk)
    central, out, offset = [], bytearray(), 0
    for i, (name, head) in enumerate(entries.items()):
        name_b = name.encode()
        if i == 0:
            comp = zlib.compressobj(9, zlib.DEFLATED, -15)
            data = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
            segment = comp.compress(zero) + comp.flush(zlib.Z_FULL_FLUSH)
            data += segment * (zeros // chunk) + comp.flush(zlib.Z_FINISH)
            crc = zlib.crc32(head)
            for _ in range(zeros // chunk):
                crc = zlib.crc32(zero, crc)
            method, usize = 8, len(head) + zeros
        else:
            data, crc, method, usize = head, zlib.crc32(head), 0, len(head)
        local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), usize,
                            len(name_b), 0) + name_b
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data),
                                   usize, len(name_b), 0, 0, 0, 0, 0, offset) + name_b)
        out += local + data
        offset += len(local) + len(data)
    cd = b"".join(central)
    out += cd + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), len(cd), offset, 0)
    with open(path, "wb") as fh:
        fh.write(out)
    return len(out)


def npy_header(shape, descr: str = "<f8", fortran: bool = False) -> bytes:
    import io

    import numpy as np
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    return buf.getvalue()


class LinearPart:
    """A frozen part for the cache tests (importable by the child too, so both compute the
    same key): features = X.reshape(N, -1) @ W, one example -> (5,), float64."""

    spec = "flatten -> linear"
    output_shape = (5,)
    dtype = "float64"

    def __init__(self, seed: int = 0, d_in: int = 16):
        import numpy as np
        self.W = np.random.default_rng(seed).standard_normal((d_in, 5))
        self.calls = 0

    def state_dict(self):
        return {"W": self.W}

    def forward(self, X):
        self.calls += 1
        return X.reshape(len(X), -1) @ self.W
