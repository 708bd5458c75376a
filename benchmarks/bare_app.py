"""The baseline every serving ratio divides by: FastAPI answering constant JSON, no model, no body read.

    python benchmarks/bare_app.py PORT [LOOP+HTTP]     e.g. 8001 uvloop+httptools, or 8001 asyncio+h11

Without LOOP+HTTP, uvicorn picks as it does for `mlsteps serve` (uvloop and httptools when installed).
The port also comes from BENCH_PORT when it is not given (bench_peers.py starts servers that way).
"""

import os
import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.post("/predict")
async def constant():
    return {"predictions": ["setosa"], "model_version": 1}


@app.get("/readyz")
async def ready():
    return {"status": "ready"}


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ["BENCH_PORT"])
    loop, http = sys.argv[2].split("+") if len(sys.argv) > 2 else ("auto", "auto")
    uvicorn.run(app, host="127.0.0.1", port=port, loop=loop, http=http, log_level="warning", access_log=False)
