"""The monitor step: compare what serve was asked with what the live model learnt from, and how right it was.

`statistics` (PSI and the two-sample tests, per feature), `recent` (the prediction log read back as
columns), `quality` (feedback joined with the answers), `step` (the report, and the retrain request).
It reads the volume only through volume/: never serve's or train's code.
"""

from mlsteps.monitor.step import monitor

__all__ = ["monitor"]
