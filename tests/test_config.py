from pathlib import Path

import botocore.client
import pytest

from isoaudit.cli import EXIT_CONFIG, main
from isoaudit.config import ConfigError, load_config

EXAMPLE = Path(__file__).parent.parent / "isoaudit.example.toml"


def test_example_file_is_valid_and_documents_the_defaults() -> None:
    config = load_config(EXAMPLE)
    assert config.bucket == "acme-isoaudit-lake"
    assert config.role_name == "IsoAuditReadOnly"
    assert config.regions == []


def test_environment_overrides_the_file_and_the_command_line_overrides_both(monkeypatch, tmp_path) -> None:
    path = tmp_path / "isoaudit.toml"
    path.write_text('bucket = "from-file"\nrole_name = "FileRole"\nconcurrency = 3\n')
    monkeypatch.setenv("ISOAUDIT_ROLE_NAME", "EnvRole")
    monkeypatch.setenv("ISOAUDIT_REGIONS", '["eu-west-1"]')
    config = load_config(path, bucket="from-cli")
    assert (config.bucket, config.role_name, config.concurrency, config.regions) == (
        "from-cli",
        "EnvRole",
        3,
        ["eu-west-1"],
    )


@pytest.mark.parametrize(
    ("content", "field", "expected"),
    [
        ('bucket = "b-ok"\nrole_nmae = "x"\n', "role_nmae", "unknown field"),
        ('bucket = "b-ok"\nregions = ["us-esat-1"]\n', "regions", "not a known AWS region"),
        ('bucket = "b-ok"\nrole_name = ""\n', "role_name", "must not be empty"),
        ('role_name = "x"\n', "bucket", "required"),
        ('bucket = "Not_A_Bucket"\n', "bucket", "S3 bucket name"),
        ('bucket = "b-ok"\nconcurrency = 0\n', "concurrency", "greater than or equal to 1"),
        ('bucket = "b-ok"\nexclude_accounts = ["12"]\n', "exclude_accounts", "12-digit"),
        (
            'bucket = "b-ok"\n[email]\nsender = "isoaudit"\n',
            "email.sender",
            "'isoaudit' is not an email address",
        ),
        ('bucket = "b-ok"\n[email]\nfinops = ["a@b.example"]\n', "email.sender", "required"),
        (
            'bucket = "b-ok"\n[email]\nsender = "i@acme.example"\nfinops = ["ops@acme.example", "cfo@"]\n',
            "email.finops",
            "'cfo@' is not an email address",
        ),
        (
            'bucket = "b-ok"\n[email]\nsender = "i@acme.example"\n[email.teams]\n'
            'fraud-ml = ["lead@acme.example\\nBcc: all@acme.example"]\n',
            "email.teams",
            "fraud-ml: 'lead@acme.example\\nBcc: all@acme.example' is not an email address",
        ),
        ('bucket = "b-ok"\n[email]\nsender = "i@acme.example"\nto = []\n', "email.to", "unknown field"),
        (
            'bucket = "b-ok"\n[email]\nsender = "i@acme.example"\n'
            '[email.teams]\n"a\\nBcc: x" = ["l@acme.example"]\n',
            "email.teams",
            "a team name is one line of printable text",
        ),
    ],
)
def test_a_mistake_names_the_field_and_what_is_expected(tmp_path, content, field, expected) -> None:
    path = tmp_path / "isoaudit.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "\n" not in message
    assert f"{field}: " in message
    assert expected in message


def test_cli_exits_2_with_one_line_and_makes_no_aws_call(monkeypatch, capsys, tmp_path) -> None:
    calls = []
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", lambda *args: calls.append(args))
    path = tmp_path / "isoaudit.toml"
    path.write_text('bucket = "b-ok"\nregions = ["us-east-1", "mars-north-1"]\n')
    assert main(["run", "--config", str(path)]) == EXIT_CONFIG
    assert main(["run", "--role-name", "", "--bucket", "b-ok"]) == EXIT_CONFIG
    assert main(["run"]) == EXIT_CONFIG
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    assert "regions: 'mars-north-1'" in errors[0]
    assert "role_name: must not be empty" in errors[1]
    assert "bucket: required" in errors[2]
    assert calls == []


def test_email_section_reads_the_sender_finops_and_each_team(tmp_path) -> None:
    path = tmp_path / "isoaudit.toml"
    path.write_text(
        'bucket = "b-ok"\n[email]\nsender = "isoaudit@acme.example"\nfinops = ["finops@acme.example"]\n'
        '[email.teams]\nfraud-ml = ["fraud-lead@acme.example", "fraud-oncall@acme.example"]\n'
    )
    email = load_config(path).email
    assert email is not None
    assert (email.sender, email.finops) == ("isoaudit@acme.example", ["finops@acme.example"])
    assert email.teams == {"fraud-ml": ["fraud-lead@acme.example", "fraud-oncall@acme.example"]}
    assert load_config(None, bucket="b-ok").email is None


def test_cli_names_the_bad_address_field_and_exits_2(capsys, tmp_path) -> None:
    path = tmp_path / "isoaudit.toml"
    path.write_text('bucket = "b-ok"\n[email]\nsender = "i@acme.example"\nfinops = ["finops at acme"]\n')
    assert main(["run", "--config", str(path)]) == EXIT_CONFIG
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert error.endswith(
        "email.finops: 'finops at acme' is not an email address (expected e.g. finops@acme.example)"
    )


def test_known_regions_are_the_regions_botocore_offers_ec2_in_every_partition() -> None:
    from botocore.session import get_session

    from isoaudit.regions import known_regions

    session = get_session()
    offered = {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    }
    assert known_regions() == offered
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= known_regions()
