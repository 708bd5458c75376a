"""The volume in an S3 bucket (MLSTEPS_STORE) against the local folder, on a real SeaweedFS started here.

Three figures (docs/benchmarks.md, "Beyond one machine: the store"):

1. publish-to-live: from train's `publish` (pickle, metadata, pointer) to serve's LiveModel holding the
   new version after one reload, median of --rounds; the store's against the folder's, in the same run.
   (A running serve adds up to MLSTEPS_RELOAD_SECONDS of waiting for its next poll, on both.)
2. serve's requests to the store per hour at the default reload interval: the SDK calls counted while
   LiveModel polls an unchanged pointer once a second for --poll-seconds, scaled to an hour.
3. serve's single-row /predict while the store is down: a real `mlsteps serve` process, sequential
   one-row requests on one keep-alive connection, store up, then SIGKILLed; requests/s and median.
4. /feedback's lookups on the store for an id this replica does not remember (another replica's, or
   unknown), in a log of --log-batches batches: the SDK requests of one lookup, against the whole-log
   scan /feedback made before (every batch read, newest first, until the id turned up).

    .venv/bin/python benchmarks/bench_store.py          # needs `make seaweedfs`
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from seaweedfs import SeaweedFS, weed_binary  # noqa: E402 (scripts/ is not a package)

ROW = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()


def free_block() -> int:
    """The first of 4 ports free with their +10000 twins (SeaweedFS's gRPC ports), below 55536."""
    while True:
        first = random.randrange(20000, 45000)
        sockets = []
        try:
            for port in [p for q in range(first, first + 4) for p in (q, q + 10000)]:
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings_for(folder: Path, store: str | None):
    from mlsteps.config import load_settings

    os.environ["MLSTEPS_DATA_DIR"] = str(folder)
    if store:
        os.environ["MLSTEPS_STORE"] = store
    else:
        os.environ.pop("MLSTEPS_STORE", None)
    return load_settings()


def publish_to_live(settings, rounds: int) -> list[float]:
    """Seconds from publish() to a LiveModel serving that version, each round a new model."""
    from mlsteps.load_data import load_data
    from mlsteps.serve.live_model import LiveModel
    from mlsteps.train import train
    from mlsteps.volume.location import models_area
    from mlsteps.volume.registry import load_latest, publish

    load_data(settings)
    train(settings)
    models = models_area(settings)
    live = LiveModel(models)
    live.refresh()
    template = load_latest(models)
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        version = publish(models, template.model, dict(template.metadata), promote=True)
        while not (live.refresh() or (live.current and live.current.version == version)):
            pass
        seconds.append(time.perf_counter() - started)
    return seconds


def polls_per_hour(settings, poll_seconds: float) -> tuple[int, float]:
    """(SDK calls while polling an unchanged pointer every reload interval, that rate per hour)."""
    from mlsteps.serve.live_model import LiveModel
    from mlsteps.volume.location import models_area

    live = LiveModel(models_area(settings))
    live.refresh()
    calls = []
    live.models.store.client.meta.events.register("before-call.s3", lambda **_: calls.append(1))
    deadline = time.monotonic() + poll_seconds
    while time.monotonic() < deadline:
        live.refresh()
        time.sleep(settings.reload_seconds)
    return len(calls), len(calls) * 3600 / poll_seconds


def single_row(port: int, seconds: float) -> tuple[float, float]:
    """(requests per second, median ms) of sequential one-row /predict on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("POST", "/predict", ROW, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
        latencies.append(time.perf_counter() - started)
    connection.close()
    return len(latencies) / seconds, statistics.median(latencies) * 1000


def serve_while_down(settings_env: dict, server: SeaweedFS, seconds: float) -> dict:
    port = free_port()
    env = {**os.environ, **settings_env, "MLSTEPS_PORT": str(port), "MLSTEPS_ACCESS_LOG": "false"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "mlsteps", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("serve did not turn ready")
        single_row(port, 2)  # warm up
        up = single_row(port, seconds)
        server.kill()
        time.sleep(3)  # a few failed polls
        down = single_row(port, seconds)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/readyz")
        ready = connection.getresponse().status
        return {"up": up, "down": down, "readyz_while_down": ready}
    finally:
        serve.terminate()
        serve.wait(30)


def feedback_lookups(settings, batches: int) -> dict[str, tuple[int, int]]:
    """{case: ((SDK requests, found) of one lookup now, the same of the whole-log scan before)} on a log of `batches`
    batches, three quarters of them with serve's own ids (ranged names), a quarter with clients' own ids."""
    from mlsteps.serve.prediction_log import PredictionLog, new_request_id
    from mlsteps.volume.location import prediction_log_area
    from mlsteps.volume.prediction_log import REQUESTS, newest_records

    log_area = prediction_log_area(settings)
    writer = PredictionLog(log_area, queue_size=100, keep_seconds=3600, keep_bytes=10**9)
    first_serve_id = first_client_id = None
    for batch in range(batches):
        ids = [f"order-{batch}-{n}" for n in range(3)] if batch % 4 == 3 else [new_request_id() for _ in range(3)]
        first_serve_id = first_serve_id or (ids[0] if batch % 4 != 3 else None)
        first_client_id = first_client_id or (ids[0] if batch % 4 == 3 else None)
        for request_id in ids:
            writer.record(request_id, [[5.1, 3.5, 1.4, 0.2]], ["setosa"], 1)
        writer.flush()
    replica = PredictionLog(log_area, queue_size=100, keep_seconds=3600, keep_bytes=10**9)  # remembers nothing
    calls = []
    log_area.store.client.meta.events.register("before-call.s3", lambda **_: calls.append(1))

    def requests(lookup, request_id) -> tuple[int, bool]:
        calls.clear()
        found = lookup(request_id) is not None
        return len(calls), found

    def whole_log_scan(request_id):  # what find() did before
        return next((r for r in newest_records(log_area, REQUESTS) if r.get("request_id") == request_id), None)

    cases = {
        "serve's id, oldest batch": first_serve_id,
        "client's id, oldest batch": first_client_id,
        "unknown id": "never-asked",
    }
    return {case: (requests(replica.find, rid), requests(whole_log_scan, rid)) for case, rid in cases.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--poll-seconds", type=float, default=30)
    parser.add_argument("--row-seconds", type=float, default=10)
    parser.add_argument("--log-batches", type=int, default=400)
    parser.add_argument("--only-feedback", action="store_true", help="figure 4 only")
    args = parser.parse_args()
    weed = weed_binary()
    if weed is None:
        print("no weed binary: run `make seaweedfs` first", file=sys.stderr)
        return 2
    for name in [n for n in os.environ if n.startswith("MLSTEPS_")]:
        del os.environ[name]
    os.environ["MLSTEPS_LOG_LEVEL"] = "WARNING"
    with tempfile.TemporaryDirectory(prefix="bench-store-") as work:
        work = Path(work)
        server = SeaweedFS(work / "seaweedfs", free_block())
        (work / "seaweedfs").mkdir()
        server.start(weed)
        try:
            server.wait_ready()
            os.environ.update(server.env())
            store = f"s3://{server.bucket}/bench"
            lookups = feedback_lookups(settings_for(work / "unused", f"{store}-feedback"), args.log_batches)
            print(f"/feedback lookups on the store, a log of {args.log_batches} batches, S3 requests per lookup:")
            for case, ((now, found_now), (before, found_before)) in lookups.items():
                said = {True: "found", False: "404"}
                print(
                    f"  {case:26} {now:5d} now ({said[found_now]}), "
                    f"{before:5d} reading the whole log before ({said[found_before]})"
                )
            if args.only_feedback:
                return 0
            local = publish_to_live(settings_for(work / "folder", None), args.rounds)
            remote = publish_to_live(settings_for(work / "unused", store), args.rounds)
            print(f"publish-to-live, median of {args.rounds} (without the wait for serve's next poll):")
            print(f"  local folder   {statistics.median(local) * 1000:7.1f} ms")
            print(f"  S3 (SeaweedFS) {statistics.median(remote) * 1000:7.1f} ms")
            print(f"  ratio store / folder: {statistics.median(remote) / statistics.median(local):.1f}")
            settings = settings_for(work / "unused", store)
            calls, hourly = polls_per_hour(settings, args.poll_seconds)
            print(
                f"serve's requests to the store at MLSTEPS_RELOAD_SECONDS={settings.reload_seconds:g}: "
                f"{calls} in {args.poll_seconds:g} s, {hourly:.0f} per hour (each a conditional GET of latest.json)"
            )
            figures = serve_while_down({**server.env(), "MLSTEPS_STORE": store}, server, args.row_seconds)
            (up_rps, up_ms), (down_rps, down_ms) = figures["up"], figures["down"]
            print(f"serve, one-row /predict, sequential on one connection, {args.row_seconds:g} s each:")
            print(f"  store up    {up_rps:7.0f} requests/s, median {up_ms:.2f} ms")
            print(f"  store down  {down_rps:7.0f} requests/s, median {down_ms:.2f} ms")
            print(f"  ratio down / up: {down_rps / up_rps:.2f}; /readyz while down: {figures['readyz_while_down']}")
        finally:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
