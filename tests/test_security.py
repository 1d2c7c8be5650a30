"""No credential reaches a log line, an exception, a report, the lake or a Prefect artifact; S3 writes can
be encrypted with a KMS key."""

from __future__ import annotations

import asyncio
import logging
import zipfile
from pathlib import Path

import boto3
import pandas as pd
import pyarrow.parquet as pq
import pytest
from moto.sts.models import sts_backends

from isoaudit.aws import lake
from isoaudit.aws.session import AwsSession
from isoaudit.cli import main
from isoaudit.config import load_config
from tests.jobs_factory import job, jobs_frame

pytestmark = pytest.mark.prefect


def issued_credentials() -> set[str]:
    """Every access key, secret key and session token the emulator's STS handed out."""
    values = set()
    for backends in sts_backends.values():
        for backend in backends.values():
            for role in backend.assumed_roles:
                values |= {role.access_key_id, role.secret_access_key, role.session_token}
    return values


def texts_of(folder: Path) -> dict[str, str]:
    """Every file's readable content: workbook XML, every Parquet value, and other files as text."""
    texts = {}
    for path in folder.rglob("*"):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                texts[str(path)] = "\n".join(
                    book.read(name).decode(errors="replace") for name in book.namelist()
                )
        elif path.suffix == ".parquet":
            texts[str(path)] = pq.read_table(path).to_pandas().astype(str).to_csv()
        elif path.is_file():
            texts[str(path)] = path.read_bytes().decode(errors="replace")
    return texts


async def prefect_texts() -> list[str]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        logs = await client.read_logs()
        artifacts = await client.read_artifacts()
    return [log.message for log in logs] + [str(artifact.data) for artifact in artifacts]


def test_the_demo_leaves_no_credential_in_any_output(
    emulator, prefect_harness, tmp_path, capsys, caplog
) -> None:
    emulator.reset()
    caplog.set_level(logging.DEBUG)
    reports = tmp_path / "reports"
    assert main(["demo", "--out", str(reports), "--json"]) == 0
    secrets = issued_credentials()
    assert len(secrets) >= 30  # one set per member account and more: the scan below means something
    printed = capsys.readouterr()
    outputs = {
        "stdout": printed.out,
        "stderr": printed.err,
        "logs": caplog.text,
        "prefect": "\n".join(asyncio.run(prefect_texts())),
        **texts_of(reports),
    }
    assert any(name.endswith(".xlsx") for name in outputs)
    assert any(name.endswith(".parquet") for name in outputs)
    leaks = [(where, secret[:8]) for where, text in outputs.items() for secret in secrets if secret in text]
    assert leaks == []


def test_lake_writes_use_the_configured_kms_key(emulator) -> None:
    emulator.reset()
    aws = AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=emulator.url)
    aws.client("s3").create_bucket(Bucket="encrypted-lake")
    key_id = aws.client("kms").create_key(Description="isoaudit lake")["KeyMetadata"]["Arn"]
    config = load_config(bucket="encrypted-lake", endpoint_url=emulator.url, kms_key_id=key_id)
    jobs = jobs_frame(job("a", "2026-11-10T10:00:00Z"), job("b", "2026-10-10T10:00:00Z"))
    lake.write_table(aws=aws, config=config, table="jobs", frame=jobs)
    s3 = aws.client("s3")
    objects = s3.list_objects_v2(Bucket="encrypted-lake")["Contents"]
    assert len(objects) == 2  # one file per month
    for found in objects:
        head = s3.head_object(Bucket="encrypted-lake", Key=found["Key"])
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_id
    assert len(lake.read_table(aws=aws, config=config, table="jobs")) == 2
    assert isinstance(lake.read_table(aws=aws, config=config, table="jobs"), pd.DataFrame)
