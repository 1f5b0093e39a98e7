"""The real server (2 granian workers) under 8 clients storing 2,000 corrections, for both back ends:
exactly 2,000 rows, each sent correction once, none lost, none doubled."""

import base64
import http.client
import json
import threading
import urllib.parse

from tests.feedback_db import query
from tests.images import drawn_digit, encode
from tests.live_server import running

CLIENTS = 8
CORRECTIONS = 2000
B64 = base64.b64encode(encode(drawn_digit())).decode()


def send(base, tags, answers):
    """POST one correction per tag over one keep-alive connection; (tag, status, id) into `answers`."""
    address = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        for tag in tags:
            body = json.dumps({"image": B64, "label": int(tag[-1]), "model": tag})
            connection.request("POST", "/feedback", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answers.append((tag, response.status, json.loads(response.read()).get("id")))
    finally:
        connection.close()


def test_two_workers_and_eight_clients_store_every_correction_once(feedback_db):
    # the eight clients share one address: the rate limit is lifted for this test
    env = {
        "FEEDBACK_DB": feedback_db,
        "WORKERS": "2",
        "FEEDBACK_RATE": "1000000",
        "FEEDBACK_BURST": "1000000",
    }
    tags = [f"client{c}-{i}" for c in range(CLIENTS) for i in range(CORRECTIONS // CLIENTS)]
    answers = []
    with running(**env) as (_, base):
        threads = [
            threading.Thread(target=send, args=(base, tags[c::CLIENTS], answers)) for c in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(answers) == CORRECTIONS and {status for _, status, _ in answers} == {201}
    ids = sorted(row_id for _, _, row_id in answers)
    assert len(set(ids)) == CORRECTIONS
    rows = query(feedback_db, "SELECT id, shown_model, label FROM corrections ORDER BY id")
    assert [row_id for row_id, _, _ in rows] == ids
    assert sorted(tag for _, tag, _ in rows) == sorted(tags)
    assert all(label == int(tag[-1]) for _, tag, label in rows)
