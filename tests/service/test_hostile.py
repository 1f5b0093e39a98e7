"""Hostile clients against the real server (`mnist-serve` on a free 127.0.0.1 port).

Slow and idle sockets while health is probed, images that are small on the wire and
expensive to decode, nested JSON, broken chunked framing, bodies over the limit, SIGTERM
with requests in flight, a worker killed under load, and the workers' memory read from
/proc. Every case checks the status, the JSON error shape and that the server still
answers afterwards. Connections and loops are bounded in number and time.
"""

import base64
import http.client
import io
import json
import os
import shutil
import signal
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import live_server
from tests.images import drawn_digit, encode

PNG = encode(drawn_digit())
MAX_BODY = 1_000_000
BODY_TIMEOUT = 2.0
TEARDOWN = 0.05  # seconds after a killed worker exits during which its queued connections still fail


@pytest.fixture(scope="module")
def server():
    env = {"WORKERS": "2", "MAX_CONTENT_LENGTH": str(MAX_BODY), "BODY_TIMEOUT": str(BODY_TIMEOUT)}
    with live_server.running(**env) as (proc, base):
        yield proc, int(base.rpartition(":")[2])


def request(port, method, path, body=None, headers=None, timeout=10):
    """(status, parsed JSON body or raw bytes, seconds) over a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    try:
        return response.status, json.loads(raw), elapsed
    except ValueError:
        return response.status, raw, elapsed


def raw_exchange(port, data, timeout=10):
    """The status line and JSON body the server answers to raw bytes (None when it closes first)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received and _complete(received):
                break
    if not received:
        return None, None
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def _complete(received):
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def assert_still_serving(port):
    status, body, _ = request(port, "POST", "/predict", PNG, {"Content-Type": "image/png"})
    assert status == 200 and body["digit"] == 1


def assert_error(status, body, expected_status, code=None, v2=False):
    assert status == expected_status, (status, body)
    if v2:
        assert isinstance(body, dict) and isinstance(body["error"], str), body
    else:
        assert isinstance(body, dict) and set(body["error"]) == {"code", "message"}, body
        if code:
            assert body["error"]["code"] == code, body


def workers(proc):
    return [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _alive(pid):
    """Whether `pid` still runs (a zombie has exited: its sockets are closed)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for_workers(proc, count, timeout=20):
    deadline = time.monotonic() + timeout
    while len(workers(proc)) < count:
        assert time.monotonic() < deadline, f"only {len(workers(proc))} workers"
        time.sleep(0.05)


# ---------------------------------------------------------------- slow and idle clients


def test_64_idle_and_dripping_connections_do_not_starve_the_service(server):
    _, port = server
    sockets = []
    try:
        for i in range(64):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 3 == 1:  # headers that never end
                sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")
            elif i % 3 == 2:  # a body dripped a byte at a time
                sock.sendall(
                    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                    b"Content-Length: 5000\r\n\r\n"
                )
            sockets.append(sock)
        for _ in range(3):  # a few rounds of drips, with fresh clients in between
            for sock in sockets[2::3]:
                sock.send(b"\0")
            for path in ("/healthz", "/readyz"):
                status, _, elapsed = request(port, "GET", path, timeout=5)
                assert status == 200 and elapsed < 1.0, (path, elapsed)
            status, body, elapsed = request(port, "POST", "/predict", PNG, {"Content-Type": "image/png"})
            assert status == 200 and body["digit"] == 1 and elapsed < 1.0, elapsed
            time.sleep(0.3)
    finally:
        for sock in sockets:
            sock.close()


def test_a_body_that_never_finishes_is_answered_408_after_the_body_timeout(server):
    _, port = server
    started = time.perf_counter()
    status, body = raw_exchange(
        port,
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100\r\n\r\nabc",
    )
    assert_error(status, body, 408, "request_timeout")
    assert BODY_TIMEOUT <= time.perf_counter() - started < BODY_TIMEOUT + 5
    assert_still_serving(port)


def test_keep_alive_connection_serves_many_requests(server):
    _, port = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(10):
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Connection", "").lower() != "close"
        response.read()
    conn.close()


# ---------------------------------------------------------------- framing


def chunks_past_the_limit():
    """A chunked body two 64 KiB chunks longer than the most MAX_BODY holds, then the last chunk."""
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // len(chunk) + 2))
    return chunks + b"0\r\n\r\n"


def test_chunked_body_over_the_limit_is_413(server):
    _, port = server
    body = chunks_past_the_limit()
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, answer = raw_exchange(port, head + body)
    assert_error(status, answer, 413, "request_too_large")
    assert_still_serving(port)


def test_a_small_declared_length_beside_chunks_over_the_limit_is_refused(server):
    """A body read whole because its declared length is small must not be one whose chunks run past it."""
    _, port = server
    body = chunks_past_the_limit()
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 10\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    status, answer = raw_exchange(port, head + body)
    assert status is None or status in (400, 413), (status, answer)
    if status == 413:
        assert_error(status, answer, 413, "request_too_large")
    assert_still_serving(port)


def test_declared_length_over_the_limit_is_413_before_the_body(server):
    _, port = server
    head = f"POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    status, answer = raw_exchange(port, head.encode())
    assert_error(status, answer, 413, v2=True)


def test_malformed_chunks_are_a_json_400_or_408(server):
    _, port = server
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, answer = raw_exchange(port, head + b"zz\r\nhello\r\n0\r\n\r\n")  # a chunk size that is no number
    # granian ends the body at the bad chunk: the app sees an empty (or cut) body, never a 5xx
    if status is not None:  # the HTTP layer may also just close a connection it cannot parse
        assert_error(status, answer, 400)
    status, answer = raw_exchange(port, head + b"5\r\nhello\r\n")  # no last chunk: the body never ends
    assert_error(status, answer, 408, "request_timeout")
    assert_still_serving(port)


def test_oversize_headers_and_bad_request_lines_are_refused_and_serving_goes_on(server):
    _, port = server
    status, _ = raw_exchange(
        port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 600_000 + b"\r\n\r\n"
    )
    assert status is None or 400 <= status < 500, status
    status, _ = raw_exchange(port, b"NOT A REQUEST LINE\r\n\r\n")
    assert status is None or 400 <= status < 500, status
    assert_still_serving(port)


# ---------------------------------------------------------------- bodies that cost


def progressive_jpeg_with_many_scans(side=512, scans=400):
    """A white progressive JPEG whose last scan is repeated: tiny on the wire, each scan a full pass."""
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), "white").save(buffer, "JPEG", progressive=True, quality=50)
    data = buffer.getvalue()
    last = data.rindex(b"\xff\xda")
    return data[:last] + data[last:-2] * scans + b"\xff\xd9"


def rle8_bmp(side):
    """An RLE8-compressed BMP made only of end-of-line codes: each pads a row in Pillow's Python decoder."""
    data = b"\x00\x00" * side + b"\x00\x01"
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 8, 1, len(data), 2835, 2835, 256, 0)
    offset = 14 + 40 + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


def sparse_specks():
    """Two dark pixels on a 2000 px page: ink that vanishes when the page shrinks to 20 px."""
    page = Image.new("L", (2000, 2000), 255)
    for xy in ((10, 10), (1990, 1990)):
        page.putpixel(xy, 0)
    return encode(page)


AMPLIFIERS = {
    "progressive JPEG, 400 scans": (progressive_jpeg_with_many_scans(), 413, "image_too_large"),
    "RLE BMP 4096x4096": (rle8_bmp(4096), 413, "image_too_large"),
    "lossless WebP 4096x4096": (
        encode(Image.new("RGB", (4096, 4096), "white"), "WEBP", lossless=True),
        413,
        "image_too_large",
    ),
    "RGBA PNG 4096x4096": (encode(Image.new("RGBA", (4096, 4096), (0, 0, 0, 0))), 413, "image_too_large"),
    "16-bit PNG 4096x4096": (encode(Image.new("I;16", (4096, 4096), 0)), 422, "no_digit_found"),
    "16-bit PNG 4096x1": (encode(Image.new("I;16", (4096, 1), 0)), 422, "no_digit_found"),
    "sparse specks": (sparse_specks(), 422, "no_digit_found"),
}


@pytest.mark.parametrize("name", list(AMPLIFIERS))
def test_images_that_are_expensive_to_decode_are_refused_quickly(server, name):
    _, port = server
    data, expected, code = AMPLIFIERS[name]
    status, body, elapsed = request(
        port, "POST", "/predict", data, {"Content-Type": "application/octet-stream"}
    )
    assert_error(status, body, expected, code)
    assert elapsed < 5, (name, elapsed)
    assert_still_serving(port)


def test_a_batch_of_expensive_images_is_refused_before_decoding(server):
    _, port = server
    big = encode(Image.new("L", (4096, 4096), 255))
    files = [("image", big)] * 5
    boundary = "hostileboundary"
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{i}.png"\r\n'
            "Content-Type: image/png\r\n\r\n".encode()
            + data
            + b"\r\n"
            for i, (_, data) in enumerate(files)
        )
        + f"--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    status, answer, elapsed = request(port, "POST", "/predict", body, headers)
    assert_error(status, answer, 413, "batch_too_large")
    assert elapsed < 5
    assert_still_serving(port)


@pytest.mark.parametrize("path", ["/predict", "/v2/models/mnist/infer"])
def test_deeply_nested_json_is_a_400(server, path):
    _, port = server
    status, body, _ = request(
        # deeper than Python's parser can recurse, yet within the values a request may hold
        port,
        "POST",
        path,
        b"[" * 50_000 + b"]" * 50_000,
        {"Content-Type": "application/json"},
    )
    assert_error(
        status, body, 400, "malformed_json" if path == "/predict" else None, v2=path.startswith("/v2")
    )
    assert_still_serving(port)


def many_values(size):
    """A JSON body of about `size` bytes holding nothing but tiny values: "[[]]," parsed is two
    lists, 120 bytes of Python objects from 5 bytes of JSON."""
    return b"[" + b"[[]]," * ((size - 6) // 5) + b"[[]]]"


def test_json_of_millions_of_tiny_values_is_refused_before_parsing():
    """At the default 16 MiB body limit, such a body took a worker to 900 MB (the pod's limit is
    640 MiB) and its event loop for 14 s; counted first, it is a 413 at once."""
    with live_server.running(WORKERS="1", FEEDBACK_DB="") as (proc, base):
        port = int(base.rpartition(":")[2])
        body = many_values(16 * 1024 * 1024 - 100)
        for path in ("/predict", "/v2/models/mnist/infer"):
            status, answer, elapsed = request(port, "POST", path, body, {"Content-Type": "application/json"})
            assert_error(
                status, answer, 413, "json_too_large" if path == "/predict" else None, v2=path != "/predict"
            )
            assert elapsed < 3, elapsed
        peak = max(status_kb(pid, "VmHWM") / 1024 for pid in workers(proc))
        print(f"\nworker peak RSS: {peak:.0f} MB")
        assert peak < 300, peak
        assert_still_serving(port)


def test_a_large_upload_needs_no_temporary_folder(tmp_path):
    """Werkzeug spooled a multipart file of over 500 kB to the temporary folder, a small memory
    volume in the pod: with it full or removed by a cleaner, every large upload was a 500."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    with live_server.running(WORKERS="1", TMPDIR=str(folder)) as (proc, base):
        port = int(base.rpartition(":")[2])
        assert_still_serving(port)  # the worker has started, its metrics folder made
        for made in folder.iterdir():
            shutil.rmtree(made)
        folder.rmdir()
        boundary = "b0undary"
        upload = PNG + bytes(1_000_000)  # a PNG with a long tail, which Pillow ignores
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n".encode()
            + upload
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        status, answer, _ = request(port, "POST", "/predict", body, headers)
        assert status == 200 and answer["digit"] == 1, (status, answer)


def test_a_header_with_underscores_cannot_choose_the_forwarded_client(tmp_path):
    """Behind one proxy (PROXY_HOPS=1) the last X-Forwarded-For entry, the proxy's, names the
    client. A client's own `X_Forwarded_For`, passed on by a proxy that allows underscores (Go's,
    Envoy's), was joined to it in the environ and named any client it liked: a fresh rate-limit
    bucket each time."""
    env = {"WORKERS": "1", "PROXY_HOPS": "1", "FEEDBACK_BURST": "1", "FEEDBACK_RATE": "0.001"}
    with live_server.running(FEEDBACK_DB=str(tmp_path / "feedback.sqlite3"), **env) as (_, base):
        port = int(base.rpartition(":")[2])
        statuses = []
        for i in range(3):
            headers = {"X-Forwarded-For": "198.51.100.7", "X_Forwarded_For": f"203.0.113.{i}"}
            body = json.dumps({"image": base64.b64encode(PNG).decode(), "label": 1}).encode()
            status, _, _ = request(
                port, "POST", "/feedback", body, {"Content-Type": "application/json", **headers}
            )
            statuses.append(status)
        assert statuses == [201, 429, 429]


def test_an_answer_of_hundreds_of_megabytes_is_refused_and_the_worker_lives(server):
    """A 1 MB /v2 request naming "probabilities" 34,000 times asked for a 430 MB answer: each output
    may now be named once, so it is a 400 before anything is built, and no worker is replaced."""
    proc, port = server
    wait_for_workers(proc, 2)
    before = sorted(workers(proc))
    # 34,000 outputs hold more JSON values than any request needs: refused before parsing (413);
    # 20,000 with a single input are parsed, and refused for naming an output more than once (400)
    for batch, outputs, expected, says in ((64, 34_000, 413, "values"), (1, 20_000, 400, "once")):
        tensor = {"name": "input", "shape": [batch, 784], "datatype": "FP32", "data": [0] * (batch * 784)}
        request_body = {"inputs": [tensor], "outputs": [{"name": "probabilities"}] * outputs}
        body = json.dumps(request_body, separators=(",", ":")).encode()
        assert len(body) < MAX_BODY
        status, answer, elapsed = request(
            port, "POST", "/v2/models/mnist/infer", body, {"Content-Type": "application/json"}, timeout=120
        )
        assert_error(status, answer, expected, v2=True)
        assert says in answer["error"] and elapsed < 5, (answer, elapsed)
    assert sorted(workers(proc)) == before
    assert_still_serving(port)


@pytest.mark.parametrize("path", ["/feedback", "/predict", "/admin/reload"])
def test_a_form_posted_from_another_sites_page_is_refused(server, path):
    """What a page elsewhere makes its visitors' browsers send: a multipart POST needs no preflight."""
    _, port = server
    boundary = "crosssite"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + PNG
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="label"\r\n\r\n7\r\n'
        f"--{boundary}--\r\n".encode()
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Origin": "https://elsewhere.example",
        "Sec-Fetch-Site": "cross-site",
    }
    status, answer, _ = request(port, "POST", path, body, headers)
    assert_error(status, answer, 403, "cross_site_request")
    assert_still_serving(port)


def test_v2_errors_keep_their_own_shape_for_404_405_and_413(server):
    _, port = server
    status, body, _ = request(port, "GET", "/v2/nothing/here")
    assert_error(status, body, 404, v2=True)
    status, body, _ = request(port, "DELETE", "/v2/models/mnist/infer")
    assert_error(status, body, 405, v2=True)


def test_made_up_methods_share_one_metrics_series(server):
    _, port = server
    for method in ("BREW", "FLY", "SPIN"):
        status, body, _ = request(port, method, "/healthz")
        assert 400 <= status < 500
    status, metrics, _ = request(port, "GET", "/metrics")
    text = metrics.decode()
    assert 'method="other"' in text
    assert not any(f'method="{m}"' in text for m in ("BREW", "FLY", "SPIN"))


def test_worker_memory_stays_bounded_through_every_attack(server):
    """Peak RSS (VmHWM) of each worker after the attacks above: the figure the deploy limits use."""
    proc, port = server
    for data, _, _ in AMPLIFIERS.values():
        request(port, "POST", "/predict", data, {"Content-Type": "application/octet-stream"})
    peaks = {pid: status_kb(pid, "VmHWM") / 1024 for pid in workers(proc)}
    print(f"\nworker peak RSS after the attacks: {', '.join(f'{mb:.0f} MB' for mb in peaks.values())}")
    assert peaks and max(peaks.values()) < 300, peaks
    assert_still_serving(port)


# ---------------------------------------------------------------- stopping and crashing


def test_sigterm_finishes_the_requests_in_flight():
    with live_server.running(WORKERS="2", BODY_TIMEOUT="10") as (proc, base):
        port = int(base.rpartition(":")[2])
        answers = []

        def slow_upload():
            # a legal upload that takes about 1.5 s to arrive: in flight when SIGTERM comes
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                sock.sendall(
                    "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                    f"Content-Length: {len(PNG)}\r\nConnection: close\r\n\r\n".encode()
                )
                for piece in np.array_split(np.frombuffer(PNG, np.uint8), 10):
                    sock.sendall(piece.tobytes())
                    time.sleep(0.15)
                answers.append(sock.recv(65536))

        clients = [threading.Thread(target=slow_upload) for _ in range(3)]
        for client in clients:
            client.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        for client in clients:
            client.join(timeout=30)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert len(answers) == 3 and all(a.startswith(b"HTTP/1.1 200") for a in answers), answers


def test_a_worker_killed_under_load_loses_only_the_requests_it_held():
    """SIGKILL of one worker under load from 4 clients: what is lost is what that worker held.

    granian's Rust side accepts connections ahead of the Python thread, so the requests a
    worker "holds" are the one it is computing and those it has accepted behind it. Each
    lost request must have started before the worker had exited (or within TEARDOWN of
    it, while the kernel closed its sockets); everything sent after that is answered, and
    the worker is respawned.
    """
    with live_server.running(WORKERS="2") as (proc, base):
        port = int(base.rpartition(":")[2])
        wait_for_workers(proc, 2)
        outcomes, stop_at, killed = [], time.monotonic() + 3.0, []

        def client():
            while time.monotonic() < stop_at:
                started = time.monotonic()
                try:
                    status, _, _ = request(
                        port, "POST", "/predict", PNG, {"Content-Type": "image/png"}, timeout=5
                    )
                except OSError:
                    status = "lost"
                outcomes.append((started, status))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        victim = workers(proc)[0]
        os.kill(victim, signal.SIGKILL)
        while _alive(victim):  # its sockets close when it has exited
            time.sleep(0.001)
        killed.append(time.monotonic())
        for thread in threads:
            thread.join(timeout=20)
        # a connection that reached the dying worker's queue in its last milliseconds is lost with it
        settled = killed[0] + TEARDOWN
        lost = [started for started, status in outcomes if status == "lost"]
        assert all(started < settled for started in lost), (killed, lost)
        after = [status for started, status in outcomes if started >= settled]
        assert after and set(after) == {200}, after
        assert sum(status == 200 for _, status in outcomes) > 50
        print(f"\nworker killed under load: {len(lost)} requests lost of {len(outcomes)}")
        deadline = time.monotonic() + 15
        while victim in workers(proc) or len(workers(proc)) < 2:  # respawned
            assert time.monotonic() < deadline, workers(proc)
            time.sleep(0.1)
        assert_still_serving(port)
