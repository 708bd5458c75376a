"""Prometheus text-format metrics, written by hand: four metric families do not need a library."""

from __future__ import annotations

import time
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Request counts and latencies per route, filled by the ASGI middleware below."""

    def __init__(self, routes: set[str]):
        self.routes = routes
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        path = path if path in self.routes else "other"  # bounded label values
        self.requests[(method, path, status)] += 1
        self.sums[path] += seconds
        self.counts[path] += 1
        buckets = self.buckets[path]
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                buckets[i] += 1

    def render(self, model_version: int | None, reloads: int, rejected: int) -> str:
        lines = ["# HELP mlsteps_requests_total HTTP requests by method, path and status.",
                 "# TYPE mlsteps_requests_total counter"]
        for (method, path, status), count in sorted(self.requests.items()):
            lines.append(f'mlsteps_requests_total{{method="{method}",path="{path}",status="{status}"}} {count}')
        lines += ["# HELP mlsteps_request_duration_seconds Time to answer a request.",
                  "# TYPE mlsteps_request_duration_seconds histogram"]
        for path in sorted(self.counts):
            for bound, count in zip(BUCKETS, self.buckets[path]):
                lines.append(f'mlsteps_request_duration_seconds_bucket{{path="{path}",le="{bound}"}} {count}')
            lines.append(f'mlsteps_request_duration_seconds_bucket{{path="{path}",le="+Inf"}} {self.counts[path]}')
            lines.append(f'mlsteps_request_duration_seconds_sum{{path="{path}"}} {self.sums[path]:.6f}')
            lines.append(f'mlsteps_request_duration_seconds_count{{path="{path}"}} {self.counts[path]}')
        lines += ["# HELP mlsteps_model_version Version of the model being served (0: none yet).",
                  "# TYPE mlsteps_model_version gauge", f"mlsteps_model_version {model_version or 0}",
                  "# HELP mlsteps_model_reloads_total Models loaded since start.",
                  "# TYPE mlsteps_model_reloads_total counter", f"mlsteps_model_reloads_total {reloads}",
                  "# HELP mlsteps_model_rejections_total Models refused (checksum, version or unpickling).",
                  "# TYPE mlsteps_model_rejections_total counter", f"mlsteps_model_rejections_total {rejected}"]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware) that times every HTTP request."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_and_record(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.observe(scope["method"], scope["path"], status, time.perf_counter() - start)
