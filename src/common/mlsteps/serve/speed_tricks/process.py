"""Process-wide settings that make serving faster; `serve.run_server` calls them with the speed tricks on."""

from __future__ import annotations


def tune_process_for_serving() -> None:
    """scikit-learn without finiteness checks, one BLAS thread, and the garbage collector skipping the imports.

    Called by `run_server` only, never by train. Each won a measurable share of a one-row /predict in
    benchmarks/bench_level1.py.
    """
    import gc

    import sklearn
    from threadpoolctl import threadpool_limits

    # The request validation already refused NaN and infinity: scikit-learn need not look again.
    sklearn.set_config(assume_finite=True)
    # One request at a time runs on the event loop, and its matrices are small: BLAS worker
    # threads would only spin and take CPU from the server itself.
    threadpool_limits(limits=1)
    gc.freeze()  # the ~10^5 objects imported so far live as long as the process: GC skips them
