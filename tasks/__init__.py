"""The work of sco-etl: one package per source (cbr, news), the seed page, shared plumbing."""
