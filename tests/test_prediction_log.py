"""The prediction log (serve/prediction_log.py, volume/prediction_log.py) and POST /feedback."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers import SAMPLE, free_port, volume_keys, volume_read
from mlsteps.serve.prediction_log import PredictionLog, request_id_from
from mlsteps.volume.location import open_store, prediction_log_area
from mlsteps.volume.prediction_log import FEEDBACK, REQUESTS, batch_name, list_batches, prune_log, put_batch, read_batch
from mlsteps.volume.store import Area


@pytest.fixture
def settings(volume_settings):
    """Every test of the log runs twice: in a local folder and in an S3 bucket (SeaweedFS)."""
    return volume_settings


@pytest.fixture
def log_area(settings):
    return prediction_log_area(settings)


def records_in(log_area, kind=REQUESTS) -> list[dict]:
    return [record for batch in list_batches(log_area, kind) for record in read_batch(log_area, batch)]


def logged_records(settings, kind=REQUESTS) -> list[dict]:
    return records_in(prediction_log_area(settings), kind)


# -- the queue and its writer ---------------------------------------------------------------------


def test_the_queue_is_bounded_and_a_full_queue_drops_and_counts_instead_of_waiting(log_area):
    log = PredictionLog(log_area, queue_size=10, keep_seconds=3600, keep_bytes=10**9)  # no writer running
    for i in range(25):
        log.record(f"r{i}", [[1.0, 2.0]], ["a"], 1)  # returns at once: nothing reads the queue
    assert len(log.queue) == 10 and log.dropped["queue_full"] == 15
    assert not log.record_feedback("r0", ["a"]) and log.dropped["queue_full"] == 16
    assert log.flush() == 10 and len(log.queue) == 0
    assert [r["request_id"] for r in records_in(log_area)] == [f"r{i}" for i in range(10)]


def test_each_batch_is_one_whole_file_of_json_lines_with_no_temporary_file_left(log_area, settings):
    log = PredictionLog(log_area, queue_size=100_000, keep_seconds=3600, keep_bytes=10**9)
    for i in range(12_000):  # more than one file's worth (BATCH_RECORDS)
        log.record(f"r{i}", [[float(i), None, "text"]], [i % 3], 7)
    log.flush()
    batches = list_batches(log_area, REQUESTS)
    records = records_in(log_area)
    assert len(batches) == 3 and len(records) == 12_000
    assert records[5] == {
        "request_id": "r5",
        "time": records[5]["time"],
        "model_version": 7,
        "instances": [[5.0, None, "text"]],
        "predictions": [2],
    }
    keys = [f"predictions/requests/{batch.name}" for batch in batches]
    assert volume_keys(settings, "predictions/") == keys  # the three batches, nothing else (no temporary file)
    if not settings.store:
        assert not list((settings.data_dir / "predictions" / REQUESTS).glob(".*.tmp"))
    assert all(volume_read(settings, key).endswith(b"}\n") for key in keys)
    assert [batch.size for batch in batches] == [len(volume_read(settings, key)) for key in keys]


def refusing_volume(settings, tmp_path, monkeypatch) -> Area:
    """A folder with a file where the log's folder should be; an S3 store whose endpoint does not answer."""
    if not settings.store:
        (tmp_path / "refusing").mkdir()
        (tmp_path / "refusing" / "predictions").write_text("a file where the folder should be")
        return Area(open_store(str(tmp_path / "refusing")), "predictions")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    return Area(open_store(f"{settings.store}-refusing", 1.0), "predictions")


def test_a_volume_that_refuses_the_write_drops_the_batch_counts_it_and_raises_nothing(
    settings, tmp_path, monkeypatch, caplog
):
    log = PredictionLog(refusing_volume(settings, tmp_path, monkeypatch), 100, keep_seconds=3600, keep_bytes=10**9)
    log.record("r1", [[1.0]], [1.0], 1)
    log.record_feedback("r1", [1.0])
    assert log.flush() == 0 and log.dropped["write_failed"] == 2 and log.written == 0
    assert caplog.text.count("the prediction log cannot write to") == 1  # said once per change, not per batch
    if settings.store:
        log._prune()  # pruning a store that does not answer is a warning, not a dead writer thread
        assert "pruning the prediction log failed" in caplog.text


def test_retention_deletes_batches_by_age_then_the_oldest_beyond_the_size(log_area):
    now = time.time()
    for hours_ago in (50, 30, 2, 1):
        put_batch(log_area, REQUESTS, batch_name(now - hours_ago * 3600, "w", hours_ago), [{"x": "y" * 1000}])
    put_batch(log_area, FEEDBACK, batch_name(now - 50 * 3600, "w", 9), [{"request_id": "old"}])
    removed = prune_log(log_area, keep_seconds=24 * 3600, keep_bytes=10**9, now=now)
    assert len(removed) == 3 and len(list_batches(log_area, REQUESTS)) == 2 and list_batches(log_area, FEEDBACK) == []
    assert prune_log(log_area, keep_seconds=24 * 3600, keep_bytes=10**9, now=now) == []
    prune_log(log_area, keep_seconds=24 * 3600, keep_bytes=1500, now=now)  # each batch is 1,009 bytes
    (left,) = list_batches(log_area, REQUESTS)
    assert left.name == batch_name(now - 3600, "w", 1) and left.size == 1009


class CountingStore:
    """The real store, every call passed through and counted by name (on S3 each `get` is one GET request)."""

    def __init__(self, store):
        import collections

        self.store, self.calls = store, collections.Counter()

    def __getattr__(self, name):
        attribute = getattr(self.store, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return call


def test_a_lookup_reads_only_the_batches_that_may_hold_the_id_however_long_the_log(log_area):
    """Another replica looks ids up on the volume: serve's own ids in the batch whose id range (in its name)
    holds them, a client's own ids in the newest LOOKUP_UNRANGED batches without a range; never the whole log."""
    from mlsteps.serve.prediction_log import new_request_id
    from mlsteps.volume.prediction_log import LOOKUP_UNRANGED

    writer = PredictionLog(log_area, queue_size=100, keep_seconds=3600, keep_bytes=10**9)
    serve_ids, client_ids = [], []
    for batch in range(3 * LOOKUP_UNRANGED):  # 60 batches: serve's ids and clients' ids, a batch each
        ids = [new_request_id() for _ in range(3)] if batch % 2 == 0 else [f"order-{batch}-{n}" for n in range(3)]
        (serve_ids if batch % 2 == 0 else client_ids).append(ids)
        for request_id in ids:
            writer.record(request_id, [[1.0]] * 2, [0, 1], 1)
        assert writer.flush() == 3
    ranged = [batch for batch in list_batches(log_area, REQUESTS) if batch.ids]
    assert len(ranged) == 15 and len(list_batches(log_area, REQUESTS)) == 30

    counting = CountingStore(log_area.store)
    replica = PredictionLog(Area(counting, log_area.name), queue_size=100, keep_seconds=3600, keep_bytes=10**9)

    def gets_to_find(request_id):
        counting.calls.clear()
        found = replica.find(request_id)
        assert counting.calls["sizes"] == 1  # one listing
        return found, counting.calls["get"]

    assert gets_to_find(serve_ids[0][1]) == ((2, pytest.approx(time.time(), abs=60)), 1)  # the oldest batch
    assert gets_to_find(serve_ids[-1][2])[1] == 1
    assert gets_to_find(client_ids[-1][0])[0][0] == 2  # the newest batch without a range: found
    assert gets_to_find(client_ids[-LOOKUP_UNRANGED][0])[1] == LOOKUP_UNRANGED  # the oldest one still looked in
    unknown_serve_id = new_request_id()
    assert gets_to_find(unknown_serve_id) == (None, LOOKUP_UNRANGED)  # no range holds it: the unranged window
    assert gets_to_find("never-asked") == (None, LOOKUP_UNRANGED)  # was 30: every batch of the log


@pytest.mark.parametrize(
    ("header", "kept"),
    [("order-42:a.b_c", True), ("x" * 129, False), ("has space", False), ("<script>", False), (None, False)],
)
def test_a_clients_request_id_is_kept_when_it_is_a_plain_token(header, kept):
    assert (request_id_from(header) == header) == kept


# -- through serve, both paths (make_app) ----------------------------------------------------------


def test_every_answer_has_a_request_id_and_the_log_holds_its_rows_and_answers(trained, make_app):
    app = make_app(trained)
    with TestClient(app) as client:
        answer = client.post("/predict", json={"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]})
        own = client.post("/predict", json=SAMPLE, headers={"X-Request-ID": "client-7"})
        again = client.post("/predict", json=SAMPLE).json()["request_id"]
    assert answer.json()["request_id"] == answer.headers["x-request-id"] != again  # each answer its own id
    assert own.json()["request_id"] == own.headers["x-request-id"] == "client-7"
    records = logged_records(trained)  # the lifespan's end wrote what was queued
    assert [r["request_id"] for r in records] == [answer.json()["request_id"], "client-7", again]
    assert records[0]["instances"] == [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    assert records[0]["predictions"] == ["setosa", "virginica"] and records[0]["model_version"] == 1


def test_the_setting_turns_the_log_off(trained, make_app):
    with TestClient(make_app(trained.model_copy(update={"prediction_log": False}))) as client:
        answer = client.post("/predict", json=SAMPLE)
        assert answer.status_code == 200 and answer.json()["request_id"]
        assert (
            client.post("/feedback", json={"request_id": answer.json()["request_id"], "actual": [1]}).status_code == 503
        )
        assert "mlsteps_prediction_log" not in client.get("/metrics").text
    assert volume_keys(trained, "predictions/") == []


def test_a_full_queue_never_fails_a_prediction_and_shows_in_the_metrics(trained, make_app):
    with TestClient(make_app(trained.model_copy(update={"log_queue_size": 1}))) as client:
        client.app.state.prediction_log.stop()  # the writer stops: the queue fills
        answers = [client.post("/predict", json=SAMPLE).status_code for _ in range(5)]
        metrics = client.get("/metrics").text
    assert answers == [200] * 5
    assert 'mlsteps_prediction_log_dropped_total{reason="queue_full"} 4.0' in metrics


def test_the_queue_is_bounded_by_rows_so_large_batches_cannot_exhaust_memory(trained, make_app):
    """A 1,000-row answer holds 1,000 rows: a queue of 2,500 rows takes two of them, then refuses more."""
    with TestClient(make_app(trained.model_copy(update={"log_queue_size": 2_500}))) as client:
        log = client.app.state.prediction_log
        log.stop()  # the writer stops: the queue fills
        batch = {"instances": [SAMPLE["instances"][0]] * 1_000}
        answers = [client.post("/predict", json=batch).status_code for _ in range(4)]
        one_row = client.post("/predict", json=SAMPLE).status_code
        queued = sum(len(item[4]) for item in log.queue)
        metrics = client.get("/metrics").text
    assert answers == [200] * 4 and one_row == 200
    assert queued == 2_001  # two batches and the one-row answer: the rows a full queue may hold
    assert 'mlsteps_prediction_log_dropped_total{reason="queue_full"} 2.0' in metrics


# -- POST /feedback -----------------------------------------------------------------------------------


def test_feedback_is_stored_for_a_logged_request_and_refused_otherwise(trained, make_app):
    with TestClient(make_app(trained)) as client:
        request_id = client.post("/predict", json={"instances": [SAMPLE["instances"][0]] * 2}).json()["request_id"]
        stored = client.post("/feedback", json={"request_id": request_id, "actual": ["setosa", "versicolor"]})
        assert stored.status_code == 200 and stored.json() == {"request_id": request_id, "rows": 2}
        unknown = client.post("/feedback", json={"request_id": "never-asked", "actual": ["setosa"]})
        assert unknown.status_code == 404 and "the newest 10 log batches" in unknown.json()["detail"]
        wrong = client.post("/feedback", json={"request_id": request_id, "actual": ["setosa"]})
        assert wrong.status_code == 422 and "2 rows" in wrong.json()["detail"]
        assert client.post("/feedback", json={"request_id": request_id}).status_code == 422
        assert (
            client.post(
                "/feedback", content=b"x" * 20_000_000, headers={"Content-Type": "application/json"}
            ).status_code
            == 413
        )
        client.app.state.prediction_log.flush()
        rows, _ = client.app.state.prediction_log.index[request_id]  # the request, made older than the log keeps
        client.app.state.prediction_log.index[request_id] = (rows, time.time() - trained.log_keep_hours * 3600 - 1)
        assert client.post("/feedback", json={"request_id": request_id, "actual": ["a", "b"]}).status_code == 404
    (record,) = logged_records(trained, FEEDBACK)
    assert record["request_id"] == request_id and record["actual"] == ["setosa", "versicolor"]


def test_feedback_finds_a_request_another_serve_process_logged(trained, make_app):
    with TestClient(make_app(trained)) as first:
        request_id = first.post("/predict", json=SAMPLE).json()["request_id"]
    with TestClient(make_app(trained)) as second:  # another replica: knows the id only from the volume
        assert second.post("/feedback", json={"request_id": request_id, "actual": ["setosa"]}).status_code == 200


def test_log_times_read_as_datetime_writes_them():
    """The writer's own formatting of each answer's time is datetime's isoformat, to the millisecond."""
    from datetime import UTC, datetime

    from mlsteps.serve.prediction_log import _iso

    moments = np.random.default_rng(0).uniform(0, 4e9, 20_000).tolist()
    moments += [1.0, 1_800_000_000.9999996, 1_800_000_000.0004995, 1_800_000_000.9995, 1_799_999_999.99999999]
    for moment in moments:
        assert _iso(moment) == datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds"), moment


def test_a_batchs_id_range_covers_serves_own_ids_from_one_process_only():
    """id_range matches the whole batch at once; it must agree with reading each id by itself (serve_id)."""
    from mlsteps.volume.prediction_log import id_range, serve_id

    def one_by_one(ids):
        parts = [serve_id(request_id) for request_id in ids]
        if not parts or None in parts or len({process for process, _ in parts}) != 1:
            return None
        return parts[0][0], min(c for _, c in parts), max(c for _, c in parts)

    ours, other = "0123456789abcdef", "fedcba9876543210"
    batches = [
        [],
        [f"{ours}-1"],
        [f"{ours}-{n:x}" for n in (5, 3, 0x1F, 4)],
        [f"{ours}-1", f"{other}-2"],
        [f"{ours}-1", "a-client-id"],
        [f"{ours}-1", f"{ours}-0x2"],
        [f"{ours}-1", f"{ours}-A"],
        [f"{ours}-1", f"{ours}-1_0"],
        [f"{ours}-1", f"{ours}-"],
        [f"{ours}-1", f"{ours}-12345678901234567"],
        [f"{ours}-1", f"{ours}-1-2"],
        [f"{ours.upper()}-1"],
    ]
    for ids in batches:
        assert id_range(ids) == one_by_one(ids), ids
