"""sco-etl benchmarks: rates backfill and daily catch-up side by side with the `cbrf` peer,
queries over the whole history (DuckDB views vs pandas), and the news pipeline.

Run `.venv/bin/python -m benchmarks.run` (see `docs/PERFORMANCE.md`).
"""
