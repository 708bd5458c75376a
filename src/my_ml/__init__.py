"""Your own ML code, on the import path at every level (see docs/your-own-model.md)."""
