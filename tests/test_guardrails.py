"""`isoaudit guardrails`: the files it lists and prints, and which accounts of an emulated Organization
the SCP covers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isoaudit.aws.organizations import list_accounts, list_service_control_policies
from isoaudit.cli import GUARDRAILS, main
from isoaudit.emulator import (
    AccountSpec,
    BuiltOrganization,
    OrganizationSpec,
    build_organization,
    management_session,
)

INFRA = Path(__file__).resolve().parents[1] / "infra"
# Denies only requests that send EnableNetworkIsolation=false: one that omits the flag gets through.
BOOL_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": "sagemaker:CreateTrainingJob",
            "Resource": "*",
            "Condition": {"Bool": {"sagemaker:NetworkIsolation": "false"}},
        }
    ],
}


@pytest.fixture(scope="module")
def organization(emulator) -> BuiltOrganization:
    """The SCP on /Workloads (so on both OUs below it), a Bool-only policy on /Sandbox, nothing on /Legacy."""
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(
            AccountSpec("prod", "ml-prod", "/Workloads/Production"),
            AccountSpec("dev", "ml-dev", "/Workloads/NonProduction"),
            AccountSpec("sandbox", "ds-sandbox", "/Sandbox"),
            AccountSpec("legacy", "legacy-batch", "/Legacy"),
        ),
        jobs=(),
        bucket="isoaudit-guardrails-lake",
    )
    built = build_organization(endpoint_url=emulator.url, spec=spec)
    aws = management_session(endpoint_url=emulator.url)
    client = aws.client("organizations")
    ou_of = {account.ou_path: account.ou_ids[-1] for account in list_accounts(aws=aws)}
    workloads = ou_of["/Workloads/Production"]
    workloads = client.list_parents(ChildId=workloads)["Parents"][0]["Id"]
    for name, content, target in (
        (
            "deny-training-without-isolation",
            (INFRA / "deny-training-without-isolation.json").read_text(),
            workloads,
        ),
        ("deny-isolation-false-only", json.dumps(BOOL_ONLY), ou_of["/Sandbox"]),
    ):
        policy_id = client.create_policy(
            Name=name, Description=name, Type="SERVICE_CONTROL_POLICY", Content=content
        )["Policy"]["PolicySummary"]["Id"]
        client.attach_policy(PolicyId=policy_id, TargetId=target)
    return built


@pytest.fixture
def aws_credentials(monkeypatch) -> None:
    """What `isoaudit guardrails` finds in the standard credential chain; the emulator accepts anything."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_service_control_policies_are_read_with_calls_per_policy_not_per_account(
    organization, emulator
) -> None:
    emulator.faults.reset_counts()
    policies = list_service_control_policies(aws=management_session(endpoint_url=emulator.url))
    by_name = {policy.name: policy for policy in policies}
    assert {"FullAWSAccess", "deny-training-without-isolation", "deny-isolation-false-only"} <= set(by_name)
    assert by_name["FullAWSAccess"].aws_managed
    assert json.loads(by_name["deny-training-without-isolation"].content) == json.loads(
        (INFRA / "deny-training-without-isolation.json").read_text()
    )
    calls = emulator.faults.requests
    assert calls[("organizations", "ListPolicies")] == 1
    assert calls[("organizations", "DescribePolicy")] == len(policies)
    assert calls[("organizations", "ListTargetsForPolicy")] == len(policies)


def test_report_covers_the_accounts_under_the_ou_the_scp_is_attached_to(
    organization, emulator, aws_credentials, capsys
) -> None:
    assert main(["guardrails", "--endpoint-url", emulator.url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["account_id"]: row for row in report["rows"]}
    ids = organization.account_ids
    assert rows[ids["prod"]]["covered"] is True
    assert rows[ids["prod"]]["ou_path"] == "/Workloads/Production"
    assert "deny-training-without-isolation" in rows[ids["prod"]]["policies"]
    assert rows[ids["dev"]]["covered"] is True
    # A Bool test alone lets a request that omits the flag through: not covered, the policy named.
    assert rows[ids["sandbox"]]["covered"] is False
    assert rows[ids["sandbox"]]["policies"] == "deny-isolation-false-only"
    assert rows[ids["legacy"]]["covered"] is False
    assert rows[ids["legacy"]]["policies"] == ""
    # SCPs never apply to the management account: only members are counted.
    assert set(rows) == set(ids.values())
    assert (report["covered"], report["accounts"], report["coverage"]) == (2, 4, 50.0)


def test_report_as_text_names_the_uncovered_accounts(
    organization, emulator, aws_credentials, tmp_path, capsys
) -> None:
    config = tmp_path / "isoaudit.toml"
    config.write_text(f'bucket = "{organization.bucket}"\nendpoint_url = "{emulator.url}"\n')
    assert main(["guardrails", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    sandbox, prod = organization.account_ids["sandbox"], organization.account_ids["prod"]
    assert line_of(out, sandbox) == [
        "NOT",
        "covered",
        sandbox,
        "ds-sandbox",
        "/Sandbox",
        "only",
        "partly",
        "by",
        "deny-isolation-false-only",
    ]
    assert line_of(out, organization.account_ids["legacy"])[:2] == ["NOT", "covered"]
    assert line_of(out, prod)[:4] == ["covered", prod, "ml-prod", "/Workloads/Production"]
    assert "deny-training-without-isolation" in " ".join(line_of(out, prod)[4:])
    assert "\npreventive coverage: 2/4 accounts (50.0 %)\n" in out


def line_of(out: str, account_id: str) -> list[str]:
    (line,) = [line for line in out.splitlines() if account_id in line]
    return line.split()


@pytest.mark.parametrize("name", sorted(GUARDRAILS))
def test_print_shows_the_file(name: str, capsys) -> None:
    assert main(["guardrails", "--print", name]) == 0
    path, _ = GUARDRAILS[name]
    assert capsys.readouterr().out == path.read_text()


def test_without_options_the_files_are_listed(capsys) -> None:
    assert main(["guardrails"]) == 0
    out = capsys.readouterr().out
    for path, _ in GUARDRAILS.values():
        assert str(path) in out
        assert path.is_file()
