"""The load-data step: write a new snapshot of data to the volume.

Read in this order: `step` (the step itself), `sources` (which source a setting names), `datasets`
(scikit-learn's bundled data, with simulated new rows), `csv_files` (your CSV file).
"""

from mlsteps.load_data.step import load_data

__all__ = ["load_data"]
