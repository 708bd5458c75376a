"""Peer comparison: mlsteps serve against a bare endpoint, a tutorial endpoint, MLServer, LitServe and BentoML.

Every server answers the same model (the iris pipeline, StandardScaler then LogisticRegression, trained
here by `mlsteps bootstrap`) on 127.0.0.1 with one worker, pinned to one core with taskset; wrk, on the
other core, sends single rows and 1,000-row batches, in alternating rounds. Figures are printed, never
asserted: each is also given as a ratio to a bare FastAPI endpoint that answers constant JSON, measured
in the same run just before it, because only such ratios carry over from one machine to another.

What the figures mean: the cost of one HTTP request around one tiny model on one core, which is most of
what a small tabular model costs to serve. What they do not mean: which server is better. The peers do
more by design, and that work shows here as overhead: MLServer and LitServe hand every request to an
inference worker process (isolation, parallelism on more cores), MLServer speaks the V2 inference
protocol with typed tensors and has a gRPC server and a model registry, BentoML runs a process
supervisor, and all three can batch requests together (off here, as in their defaults). A bigger
model, more cores or more workers would change every ratio, and every process of a server (MLServer's
and LitServe's inference worker, BentoML's supervisor) shares its one core. Each peer runs with its
defaults, except that access logs are off everywhere and each answers predict_proba, as mlsteps does.
The range beside each ratio is its spread over the rounds: on a busy machine, read it before the median.

The peers are not project dependencies: each is installed with pinned versions into its own virtual
environment under benchmarks/.peers-venv/ (made once, reused; the folder ignores itself for git),
with the project's scikit-learn version so the pickle loads. mlsteps, the bare and the tutorial
endpoints run from the project's .venv, so the bare endpoint shares mlsteps' FastAPI and uvicorn.
Needs wrk and taskset (`apt-get install -y wrk`) and PyPI for the first run:

    .venv/bin/python benchmarks/bench_peers.py                      # 2 rounds of 10 s per server and size
    .venv/bin/python benchmarks/bench_peers.py --seconds 3 --only bare mlsteps litserve
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
CACHE = REPO_ROOT / "benchmarks" / ".peers-venv"
# Pinned so that a rerun measures the same code. mlserver 1.7.1 needs uvloop < 0.22: with 0.22 its inference
# worker dies at start (SeldonIO/MLServer#2286). bentoml 1.4.40 needs a certifi newer than PyPI had here.
PEER_PINS = {
    "mlserver": ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop==0.21.0"],
    "litserve": ["litserve==0.2.19"],
    "bentoml": ["bentoml==1.4.39"],
}
ROW = [5.1, 3.5, 1.4, 0.2]
SIZES = {"1 row": 1, "1,000 rows": 1000}
CONNECTIONS = 4  # wrk's keep-alive connections: enough to keep one worker busy, few enough for fair latency
CORES = sorted(os.sched_getaffinity(0))
SERVER_CORE, CLIENT_CORE = CORES[0], CORES[-1]  # with one core, both share it (and the ratios suffer)
START_SECONDS = 120  # a server not ready by then is reported and left out

# wrk's script: POST the file named after `--`, then print one JSON line of figures.
WRK_LUA = """
function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  file:close()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

BARE_APP = Path(__file__).with_name("bare_app.py")  # the baseline every ratio divides by, shared

# What most tutorials write: the model loaded at import, a sync route with a pydantic body (FastAPI runs
# it in a thread), predict_proba on the rows with scikit-learn's input checks on every call.
TUTORIAL_APP = """
import os
import pickle

import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

with open(os.environ["BENCH_MODEL"], "rb") as file:
    model = pickle.load(file)
app = FastAPI()


class Body(BaseModel):
    instances: list[list[float]]


@app.post("/predict")
def predict(body: Body):
    probabilities = model.predict_proba(np.array(body.instances))
    return {
        "predictions": model.classes_[probabilities.argmax(axis=1)].tolist(),
        "probabilities": probabilities.tolist(),
    }


@app.get("/readyz")
def ready():
    return {"status": "ready"}


uvicorn.run(app, host="127.0.0.1", port=int(os.environ["BENCH_PORT"]), log_level="warning", access_log=False)
"""

# LitServe: its uvicorn process puts each decoded request on a queue; one inference worker process
# (workers_per_device=1) runs predict and sends the answer back. Batching is off (max_batch_size unset).
LITSERVE_APP = """
import os
import pickle

import litserve as ls
import numpy as np


class Iris(ls.LitAPI):
    def setup(self, device):
        with open(os.environ["BENCH_MODEL"], "rb") as file:
            self.model = pickle.load(file)

    def decode_request(self, request):
        return np.asarray(request["instances"], dtype=float)

    def predict(self, x):
        return self.model.predict_proba(x)

    def encode_response(self, output):
        return {
            "predictions": self.model.classes_[output.argmax(axis=1)].tolist(),
            "probabilities": output.tolist(),
        }


if __name__ == "__main__":
    server = ls.LitServer(Iris(), accelerator="cpu", workers_per_device=1)
    server.run(
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        num_api_servers=1,
        log_level="warning",
        generate_client_file=False,
        access_log=False,
    )
"""

# BentoML: a service class that `bentoml serve` runs with one worker under its supervisor; the sync
# API method runs in a thread, its JSON body validated against the signature. Batching is off
# (batchable defaults to False).
BENTOML_APP = """
import os
import pickle

import bentoml
import numpy as np


@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class Iris:
    def __init__(self):
        with open(os.environ["BENCH_MODEL"], "rb") as file:
            self.model = pickle.load(file)

    @bentoml.api
    def predict(self, instances: list[list[float]]) -> dict:
        probabilities = self.model.predict_proba(np.asarray(instances))
        return {
            "predictions": self.model.classes_[probabilities.argmax(axis=1)].tolist(),
            "probabilities": probabilities.tolist(),
        }
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def instances_body(rows: list[list[float]]) -> dict:
    return {"instances": rows}


def v2_body(rows: list[list[float]]) -> dict:
    """MLServer's V2 inference protocol: one typed, flattened tensor, asking for predict_proba."""
    flat = [value for row in rows for value in row]
    tensor = {"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64", "data": flat}
    return {"inputs": [tensor], "outputs": [{"name": "predict_proba"}]}


@dataclass(frozen=True)
class Peer:
    """How to start one server and talk to it; `start` writes its app into a folder and gives the argv."""

    name: str
    venv: str | None  # its folder under the venvs folder (--venvs), or None for the project's .venv
    packages: tuple[str, ...]  # whose versions the report prints
    start: Callable[[Path, Path, int, str], list[str]]  # (python, folder, port, model path) -> argv
    ready_path: str
    predict_path: str
    body: Callable[[list[list[float]]], dict] = instances_body
    env: dict[str, str] = field(default_factory=dict)  # "{folder}" in a value becomes its scratch folder


def write_app(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(text.lstrip())
    return folder / name


def start_mlsteps(python: Path, folder: Path, port: int, model: str) -> list[str]:
    return [str(python), "-m", "mlsteps", "serve"]  # its settings come from the MLSTEPS_* variables


def start_bare(python: Path, folder: Path, port: int, model: str) -> list[str]:
    return [str(python), str(BARE_APP)]  # its port from BENCH_PORT


def start_tutorial(python: Path, folder: Path, port: int, model: str) -> list[str]:
    return [str(python), str(write_app(folder, "tutorial.py", TUTORIAL_APP))]


def start_mlserver(python: Path, folder: Path, port: int, model: str) -> list[str]:
    """MLServer's own files: server settings (ports, no access log) and the model's (its sklearn runtime)."""
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "debug": False,  # debug is MLServer's switch for access logs
    }
    runtime = {"name": "iris", "implementation": "mlserver_sklearn.SKLearnModel", "parameters": {"uri": model}}
    write_app(folder, "settings.json", json.dumps(settings))
    write_app(folder, "model-settings.json", json.dumps(runtime))
    return [str(python.parent / "mlserver"), "start", str(folder)]


def start_litserve(python: Path, folder: Path, port: int, model: str) -> list[str]:
    return [str(python), str(write_app(folder, "litserve_app.py", LITSERVE_APP))]


def start_bentoml(python: Path, folder: Path, port: int, model: str) -> list[str]:
    write_app(folder, "service.py", BENTOML_APP)
    return [str(python.parent / "bentoml"), "serve", "service:Iris", "--host", "127.0.0.1", "--port", str(port)]


PEERS = [
    Peer("bare", None, ("fastapi", "uvicorn"), start_bare, "/readyz", "/predict"),
    Peer("mlsteps", None, ("mlsteps", "fastapi", "uvicorn", "scikit-learn"), start_mlsteps, "/readyz", "/predict"),
    Peer("tutorial", None, ("fastapi", "uvicorn", "scikit-learn"), start_tutorial, "/readyz", "/predict"),
    Peer(
        "mlserver",
        "mlserver",
        ("mlserver", "mlserver-sklearn", "fastapi", "uvicorn", "scikit-learn"),
        start_mlserver,
        "/v2/models/iris/ready",
        "/v2/models/iris/infer",
        body=v2_body,
    ),
    Peer(
        "litserve",
        "litserve",
        ("litserve", "fastapi", "uvicorn", "scikit-learn"),
        start_litserve,
        "/health",
        "/predict",
    ),
    Peer(
        "bentoml",
        "bentoml",
        ("bentoml", "starlette", "uvicorn", "scikit-learn"),
        start_bentoml,
        "/readyz",
        "/predict",
        env={"BENTOML_DO_NOT_TRACK": "True", "BENTOML_HOME": "{folder}/bentoml-home"},  # not ~/bentoml
    ),
]


def project_sklearn() -> str:
    """The project's scikit-learn version: the peers need the same one to load its pickle."""
    argv = [str(PROJECT_PYTHON), "-c", "import sklearn; print(sklearn.__version__)"]
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout.strip()


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def ensure_venv(cache: Path, name: str, requirements: list[str], skip_install: bool) -> Path:
    """The venv's python, made and filled once; a changed pin list makes it again. Raises on failure."""
    venv, python = cache / name, cache / name / "bin" / "python"
    stamp = venv / "bench-requirements.txt"  # what was installed, to notice a changed pin
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if skip_install:
        raise RuntimeError(f"no up-to-date venv at {venv} (run once without --skip-install)")
    cache.mkdir(parents=True, exist_ok=True)
    (cache / ".gitignore").write_text("*\n")  # the cache ignores itself, as venvs made by Python 3.13 do
    print(f"{name}: installing {' '.join(requirements)} into {venv} (a minute or two)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
    argv = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"pip install failed: {last_line(done.stderr)}")
    stamp.write_text(wanted)
    return python


def python_for(peer: Peer, sklearn: str, args: argparse.Namespace) -> Path:
    if peer.venv is None:
        return PROJECT_PYTHON
    return ensure_venv(args.venvs, peer.venv, [*PEER_PINS[peer.venv], f"scikit-learn=={sklearn}"], args.skip_install)


# Printed with each server's versions: uvicorn uses uvloop and httptools when they are installed.
VERSIONS_CODE = """
import sys
from importlib import metadata


def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


print(", ".join(f"{name} {version(name)}" for name in sys.argv[1:]))
"""


def versions(python: Path, packages: tuple[str, ...]) -> str:
    argv = [str(python), "-c", VERSIONS_CODE, *packages, "uvloop", "httptools"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or f"unknown ({last_line(done.stderr)})"


def get_status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def wait_ready(process: subprocess.Popen, port: int, path: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode}: {last_line(log.read_text())}")
        try:
            if get_status(port, path) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not ready on {path} after {START_SECONDS} s: {last_line(log.read_text())}")


@dataclass
class Running:
    peer: Peer
    process: subprocess.Popen
    port: int
    bodies: dict[str, Path]  # size name -> the JSON body file wrk posts


def launch(peer: Peer, python: Path, work: Path, env: dict[str, str]) -> Running:
    """Start `peer` on the server core, in its own process group so that stop() reaches its children."""
    folder = work / peer.name
    folder.mkdir()
    port = free_port()
    own = {name: value.format(folder=folder) for name, value in peer.env.items()}
    env = {**os.environ, **env, **own, "BENCH_PORT": str(port), "MLSTEPS_PORT": str(port)}
    argv = ["taskset", "-c", str(SERVER_CORE), *peer.start(python, folder, port, env["BENCH_MODEL"])]
    log = folder / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Running(peer, process, port, {})
    try:
        wait_ready(process, port, peer.ready_path, log)
    except BaseException:
        stop(running)
        raise
    for size, rows in SIZES.items():
        running.bodies[size] = folder / f"body-{rows}.json"
        running.bodies[size].write_text(json.dumps(peer.body([ROW] * rows)))
    return running


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc: BentoML puts its worker in a process group of its own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # the field after the command name
        except (OSError, IndexError, ValueError):
            continue  # a process that ended while we read
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def alive(pids: list[int]) -> list[int]:
    left = []
    for pid in pids:
        try:
            os.kill(pid, 0)  # signal 0 only asks whether the process is there
            left.append(pid)
        except ProcessLookupError:
            pass
    return left


def stop(running: Running) -> None:
    """SIGTERM to the server's process group, then SIGKILL to whatever of its process tree is left 15 s later."""
    leader = running.process
    tree = [leader.pid, *descendants(leader.pid)]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while leader.poll() is None or alive(tree):  # poll() reaps the leader, which would otherwise stay a zombie
        if time.monotonic() > deadline:
            for pid in alive(tree):
                with contextlib.suppress(ProcessLookupError):  # it may have ended since alive() looked
                    os.kill(pid, signal.SIGKILL)
            leader.wait(5)
            return
        time.sleep(0.1)


def load(running: Running, size: str, seconds: float, lua: Path) -> dict:
    """One wrk run on the client core; figures from the Lua script's JSON line."""
    url = f"http://127.0.0.1:{running.port}{running.peer.predict_path}"
    argv = ["taskset", "-c", str(CLIENT_CORE), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s"]
    done = subprocess.run(
        [*argv, "-s", str(lua), url, "--", str(running.bodies[size])],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    requests_per_s = figures["requests"] / (figures["duration_us"] / 1e6)
    return {
        "requests_per_s": requests_per_s,
        "rows_per_s": requests_per_s * SIZES[size],
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "failed": figures["non_2xx"] + figures["socket_errors"],
    }


def paired_run(
    bare: Running | None, running: Running, size: str, seconds: float, lua: Path
) -> tuple[dict | None, dict]:
    """A bare run right before this server's, so both meet the same noise; the ratio is kept with the run."""
    if bare is None or bare is running:
        return None, load(running, size, seconds, lua)
    base, mine = load(bare, size, seconds, lua), load(running, size, seconds, lua)
    return base, {**mine, "ratio": mine["requests_per_s"] / base["requests_per_s"]}


def measure(servers: list[Running], args: argparse.Namespace, lua: Path) -> dict[tuple[str, str], list[dict]]:
    """Warm each server up, then alternate: every round runs each server once per size, each after a bare run."""
    for running in servers:
        for size in SIZES:
            load(running, size, min(2.0, args.seconds), lua)
    bare = next((running for running in servers if running.peer.name == "bare"), None)
    others = [running for running in servers if running is not bare] or servers  # bare alone: measure it
    runs: dict[tuple[str, str], list[dict]] = {}
    for round_index in range(args.rounds):
        shift = round_index % len(others)  # rotated, so that no server is always the first after a pause
        for size in SIZES:
            for running in others[shift:] + others[:shift]:
                base, mine = paired_run(bare, running, size, args.seconds, lua)
                if base is not None:
                    runs.setdefault(("bare", size), []).append(base)
                runs.setdefault((running.peer.name, size), []).append(mine)
        print(f"round {round_index + 1} of {args.rounds} done", flush=True)
    return runs


def ratio_to_bare(measured: list[dict]) -> str:
    """Each run's req/s over the bare run just before it: the median, and the range over rounds."""
    ratios = [run["ratio"] for run in measured if "ratio" in run]
    if not ratios:
        return "n/a"
    spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
    return f"{statistics.median(ratios):.2f}{spread}"


FIGURES = ("requests_per_s", "rows_per_s", "p50_ms", "p99_ms")


def table(runs: dict[tuple[str, str], list[dict]], names: list[str]) -> str:
    """Medians over the runs, as a markdown table; the bare endpoint ran once before each other run."""
    lines = [
        "| server | rows per request | requests/s | rows/s | p50 ms | p99 ms | ratio to bare (range) | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in SIZES:
        for name in names:
            measured = runs[(name, size)]
            median = {key: statistics.median(run[key] for run in measured) for key in FIGURES}
            ratio = "1.00" if name == "bare" else ratio_to_bare(measured)
            lines.append(
                f"| {name} | {SIZES[size]:,} | {median['requests_per_s']:,.0f} | {median['rows_per_s']:,.0f} | "
                f"{median['p50_ms']:.2f} | {median['p99_ms']:.2f} | {ratio} | "
                f"{sum(run['failed'] for run in measured)} |"
            )
    return "\n".join(lines)


def bootstrap_model(work: Path) -> dict[str, str]:
    """Train the iris model with mlsteps into `work`; the environment every server gets."""
    env = {
        "MLSTEPS_DATA_DIR": str(work / "mlsteps-data"),
        "MLSTEPS_HOST": "127.0.0.1",
        "MLSTEPS_ACCESS_LOG": "false",
        "MLSTEPS_LOG_LEVEL": "WARNING",
    }
    argv = [str(PROJECT_PYTHON), "-m", "mlsteps", "bootstrap"]
    subprocess.run(argv, env={**os.environ, **env}, check=True, capture_output=True, timeout=300)
    return {**env, "BENCH_MODEL": str(work / "mlsteps-data" / "models" / "v000001" / "model.pkl")}


def start_all(peers: list[Peer], args: argparse.Namespace, work: Path, servers: list[Running]) -> list[str]:
    """Install and start each peer, appending to `servers` as they come up; one line for each that fails."""
    env, sklearn = bootstrap_model(work), project_sklearn()
    lines = []
    for peer in peers:
        try:
            python = python_for(peer, sklearn, args)
            servers.append(launch(peer, python, work, env))
            lines.append(f"- {peer.name}: {versions(python, peer.packages)}")
        except Exception as error:  # one peer that fails is reported, the others still run
            print(f"{peer.name}: not measured: {error}", flush=True)
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    names = [peer.name for peer in PEERS]
    parser.add_argument(
        "--only", nargs="+", choices=names, metavar="NAME", help=f"some of: {' '.join(names)} (bare always runs)"
    )
    parser.add_argument("--skip-install", action="store_true", help="use the peers' venvs as they are")
    parser.add_argument("--venvs", type=Path, default=CACHE, help=f"the peers' venvs (default {CACHE})")
    return parser.parse_args()


def stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt  # the same clean-up as Ctrl-C


def run(peers: list[Peer], args: argparse.Namespace) -> tuple[list[str], dict, list[str]]:
    """Start the servers, measure them, and stop every one of them whatever happens."""
    servers: list[Running] = []
    with tempfile.TemporaryDirectory(prefix="mlsteps-peers-") as scratch:
        work = Path(scratch)
        lua = write_app(work, "post.lua", WRK_LUA)
        try:
            found = start_all(peers, args, work, servers)
            return found, measure(servers, args, lua), [running.peer.name for running in servers]
        finally:
            for running in servers:
                stop(running)


def main() -> None:
    args = parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install -y wrk (taskset is in util-linux)")
    peers = [peer for peer in PEERS if not args.only or peer.name in args.only or peer.name == "bare"]
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        found, runs, names = run(peers, args)
    except KeyboardInterrupt:
        sys.exit("interrupted; every server was stopped")
    print(
        f"\n{args.rounds} rounds of {args.seconds:g} s per server and size; servers on core {SERVER_CORE}, "
        f"wrk ({CONNECTIONS} connections) on core {CLIENT_CORE}; a bare run before each other run; medians\n"
    )
    print(table(runs, names))
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    wrk_version = (wrk_version.stdout + wrk_version.stderr).split(" [")[0]
    print(f"\nVersions (Python {sys.version.split()[0]}, {wrk_version}):", *found, sep="\n")


if __name__ == "__main__":
    main()
