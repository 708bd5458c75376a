"""`python -m mlsteps ...` runs the same CLI as the `mlsteps` console script."""

from mlsteps.cli import main

raise SystemExit(main())
