"""Benchmarks of the pipeline against the course's flows; run as modules from the project folder,
e.g. `python -m benchmarks.run` (see README.md here)."""
