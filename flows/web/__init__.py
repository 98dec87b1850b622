"""`sco-etl web`: the warehouse as an HTTP API (`/api/v1/`) and a live site, on one ASGI app."""
