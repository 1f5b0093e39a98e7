"""benchmarks/serve_costs.py: its in-process figures print in their format, and a bad option stops in
one line before any server starts."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import serve_costs
from tests.machine import REPO


@pytest.mark.slow  # 40,000 calls of preprocess, about 10 s
def test_preprocess_against_another_version_prints_both_medians_and_their_ratio(capsys):
    serve_costs.main(["preprocess", "--against", str(REPO / "data" / "imaging" / "preprocess.py")])
    out = capsys.readouterr().out
    medians = re.findall(r"^preprocess\(page PNG, 56x56 RGB\), (.+): median ([\d.]+) µs", out, re.M)
    assert [name for name, _ in medians][1:] == ["this tree"] and all(float(us) > 0 for _, us in medians)
    assert re.search(r"^this tree / .+preprocess\.py: [\d.]+$", out, re.M), out


def test_metrics_prints_the_median_cost_of_recording_a_request(capsys):
    serve_costs.main(["metrics"])
    assert re.fullmatch(r"metrics of one /healthz request: median [\d.]+ µs \(100 rounds of 500\)\n",
                        capsys.readouterr().out)  # fmt: skip


@pytest.mark.parametrize(
    "argv, message",
    [
        (["preprocess", "--against", "/no/such.py"], "--against /no/such.py: no such file"),
        (["syscalls", "--requests", "0"], "--requests must be at least 1"),
        (["syscalls", "/feedback"], "invalid choice: '/feedback'"),
    ],
)
def test_bad_options_stop_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        serve_costs.main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def _fails(argv, capsys, code=1):
    """The one line `main(argv)` printed on stderr when it stopped with `code`."""
    with pytest.raises(SystemExit) as stop:
        serve_costs.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    if code == 2:  # argparse's usage, then the one line
        err = err[-1:]
    assert stop.value.code == code and len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    "source, message",
    [
        (b"", "defines no preprocess"),
        (b"raise RuntimeError('no import')\n", "importing it raised RuntimeError: no import"),
        (b"def preprocess(png:\n", "does not compile (line 1: "),
        (b"# \xff\xfe\n", "not UTF-8 text"),
        (b"preprocess = 42\n", "preprocess is a int, not a function"),
        (b"def preprocess(png):\n    raise ValueError('bad PNG')\n", "raised ValueError: bad PNG"),
        (b"def preprocess(png):\n    return None\n", "returned NoneType, not a float array of shape"),
        (
            b"import numpy as np\ndef preprocess(png):\n    return np.zeros((3, 3), np.float32)\n",
            "returned a float32 array of shape (3, 3), not a float array of shape",
        ),
    ],
)
def test_an_against_file_that_does_not_load_or_return_an_image_stops_in_one_line_before_timing(
    source, message, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(serve_costs.timeit, "timeit", lambda *a, **k: pytest.fail("timed"))
    against = tmp_path / "old_preprocess.py"
    against.write_bytes(source)
    err = _fails(["preprocess", "--against", str(against)], capsys)
    assert err.startswith(f"error: --against {against}: ") and message in err, err


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_a_port_out_of_range_stops_at_parse_time(port, capsys):
    assert "--port: " in _fails(["rss", "--port", port], capsys, code=2)


@pytest.mark.parametrize("what", ["rss", "syscalls"])
def test_a_port_in_use_stops_before_any_server_starts(what, capsys, monkeypatch):
    monkeypatch.setattr(serve_costs, "start", lambda *a, **k: pytest.fail("a server was started"))
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert _fails([what, "--port", str(port)], capsys, code=2).endswith(f"error: port {port} is in use")


def _process(code):
    """A Python process running `code` in its own session, as benchmarks/serving.py starts a server."""
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def test_a_server_that_exits_while_starting_stops_with_its_own_reason(capsys, monkeypatch):
    died = "import sys; print('starting', file=sys.stderr); sys.exit('OSError: [Errno 98] Address in use')"
    monkeypatch.setattr(serve_costs, "start", lambda *a, **k: _process(died))
    err = _fails(["rss"], capsys)
    assert err == "error: the server exited with status 1: OSError: [Errno 98] Address in use", err


@pytest.mark.parametrize("what", ["rss", "syscalls"])
def test_a_server_without_a_worker_stops_in_one_line(what, capsys, monkeypatch):
    lone = _process("import time; time.sleep(30)")
    monkeypatch.setattr(serve_costs, "_server", lambda port, workers: lone)
    monkeypatch.setattr(serve_costs.time, "sleep", lambda s: None)
    assert "error: no worker process of the server" in _fails([what], capsys)
    assert lone.poll() is not None  # stopped


def _fake_strace(tmp_path, monkeypatch, script):
    """A `strace` first on PATH running the bash `script`; the pid of a worker it is pointed at."""
    (tmp_path / "strace").write_text("#!/bin/bash\n" + script)
    (tmp_path / "strace").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    server = _process(
        "import subprocess, time; subprocess.Popen(['sleep', '30'], stdout=-3, stderr=-3); time.sleep(30)"
    )
    monkeypatch.setattr(serve_costs, "_server", lambda port, workers: server)
    monkeypatch.setattr(serve_costs, "_client", lambda port, path: lambda: None)
    for _ in range(100):  # until its child is there
        if Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split():
            break
        time.sleep(0.02)
    return server


def test_syscalls_stops_in_one_line_when_strace_cannot_attach(tmp_path, monkeypatch, capsys):
    denied = "strace: attach: ptrace(PTRACE_SEIZE, 4242): Operation not permitted"
    _fake_strace(tmp_path, monkeypatch, f"echo '{denied}' >&2\nexit 1\n")
    err = _fails(["syscalls", "--requests", "5"], capsys)
    assert err == f"error: strace could not attach to the worker: {denied}", err


def test_syscalls_stops_in_one_line_when_straces_output_is_deleted(tmp_path, monkeypatch, capsys):
    deletes = 'while [ "$1" != -o ]; do shift; done\nrm -f "$2"\nexit 0\n'
    _fake_strace(tmp_path, monkeypatch, deletes)
    err = _fails(["syscalls", "--requests", "5"], capsys)
    assert re.fullmatch(
        r"error: strace's output .+\.strace could not be read: No such file or directory", err
    )


def test_syscalls_counts_the_calls_strace_summed_when_it_stopped_on_sigint(tmp_path, monkeypatch, capsys):
    summary = """% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.00    0.000600           6        30           epoll_wait
 40.00    0.000400           2        20         5 recvfrom
------ ----------- ----------- --------- --------- ----------------
100.00    0.001000                    50         5 total
"""
    # like strace: on SIGINT it writes its summary, then dies of the SIGINT
    on_sigint = f'cat > "$2" <<EOF\n{summary}EOF\nkill $!; trap - INT; kill -INT $$'
    script = f"while [ \"$1\" != -o ]; do shift; done\ntrap '{on_sigint}' INT\n"
    _fake_strace(tmp_path, monkeypatch, script + "sleep 30 > /dev/null 2>&1 &\nwait $!\n")
    serve_costs.main(["syscalls", "--requests", "10"])
    assert capsys.readouterr().out == (
        "/healthz: 5.0 system calls per request in the worker (10 requests; epoll_wait 3.0, recvfrom 2.0)\n"
    )
