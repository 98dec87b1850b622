"""What the deployment tests share: one warehouse on a PostgreSQL catalog and S3 data files."""

from __future__ import annotations

import uuid

import pytest

from sco_etl.warehouse import LakeSettings, S3Settings, Warehouse
from tests.fakes.postgres import postgres_cluster  # noqa: F401  (fixture)
from tests.fakes.s3 import moto_s3  # noqa: F401  (fixture)


@pytest.fixture
def shared_lake(postgres_cluster, moto_s3, tmp_path):  # noqa: F811  (fixtures by name)
    """A new catalog database and S3 prefix: the settings every worker gets."""
    database = f"lake_{uuid.uuid4().hex[:8]}"
    postgres_cluster.psql(f"CREATE DATABASE {database}")
    conninfo = postgres_cluster.conninfo.replace("dbname=sco", f"dbname={database}")
    env = {
        "SCO_ETL_CATALOG": f"postgres:{conninfo}",
        "SCO_ETL_DATA_PATH": moto_s3.s3_url(f"{database}/"),
        "SCO_ETL_S3_ENDPOINT": f"http://{moto_s3.endpoint}",
        "AWS_ACCESS_KEY_ID": moto_s3.key_id, "AWS_SECRET_ACCESS_KEY": moto_s3.secret,
        "AWS_REGION": moto_s3.region, "SCO_ETL_DATA_DIR": str(tmp_path / "worker-data"),
    }
    lake = LakeSettings(
        f"postgres:{conninfo}", moto_s3.s3_url(f"{database}/"),
        S3Settings(endpoint=moto_s3.endpoint, key_id=moto_s3.key_id, secret=moto_s3.secret,
                   region=moto_s3.region, use_ssl=False, url_style="path"))
    return env, Warehouse(tmp_path / "worker-data", lock_timeout=60, lake=lake)
