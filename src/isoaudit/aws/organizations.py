"""AWS Organizations: the member accounts, where they sit in the OU tree, their tags, and the service
control policies in effect."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from botocore.client import BaseClient

from isoaudit.aws.session import AwsSession


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    status: str
    ou_path: str
    ou_ids: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


# Tags are read one account at a time (the API has no batch read): in parallel, so that a large
# organization's discovery takes the time of its OU tree's depth, not of its number of accounts.
TAG_READERS = 8


def list_accounts(*, aws: AwsSession) -> list[Account]:
    """Every account of the organization, walking the OU tree from the root (one page per parent)."""
    client = aws.client("organizations", pool=TAG_READERS)
    placed: list[Account] = []
    tags: list[Future[dict[str, str]]] = []
    # Each account's tags are asked for as soon as the walk finds it, while the walk goes on.
    with ThreadPoolExecutor(max_workers=TAG_READERS) as pool:
        for root in _pages(client, "list_roots", "Roots"):
            for account in _walk(client, parent_id=root["Id"], path="", ou_ids=(root["Id"],)):
                placed.append(account)
                tags.append(pool.submit(_tags, client, account.account_id))
        accounts = [
            replace(account, tags=found.result()) for account, found in zip(placed, tags, strict=True)
        ]
    return sorted(accounts, key=lambda account: account.account_id)


def management_account_id(*, aws: AwsSession) -> str:
    """The organization's management account: SCPs never apply to it."""
    return aws.client("organizations").describe_organization()["Organization"]["MasterAccountId"]


@dataclass(frozen=True)
class ServiceControlPolicy:
    """An SCP and where it is attached; `content` is the policy document as AWS returns it (JSON text)."""

    policy_id: str
    name: str
    aws_managed: bool
    content: str
    target_ids: tuple[str, ...]  # root, OU and account ids the policy is attached to


def list_service_control_policies(*, aws: AwsSession) -> list[ServiceControlPolicy]:
    """Every SCP of the organization with its targets: calls per policy, never per account."""
    client = aws.client("organizations")
    policies = []
    for summary in _pages(client, "list_policies", "Policies", Filter="SERVICE_CONTROL_POLICY"):
        described = client.describe_policy(PolicyId=summary["Id"])["Policy"]
        targets = _pages(client, "list_targets_for_policy", "Targets", PolicyId=summary["Id"])
        policies.append(
            ServiceControlPolicy(
                policy_id=summary["Id"],
                name=summary.get("Name", ""),
                aws_managed=bool(summary.get("AwsManaged", False)),
                content=described["Content"],
                target_ids=tuple(sorted(target["TargetId"] for target in targets)),
            )
        )
    return sorted(policies, key=lambda policy: policy.policy_id)


def _walk(client: BaseClient, *, parent_id: str, path: str, ou_ids: tuple[str, ...]) -> Iterator[Account]:
    for entry in _pages(client, "list_accounts_for_parent", "Accounts", ParentId=parent_id):
        yield Account(
            account_id=entry["Id"],
            name=entry.get("Name", ""),
            status=entry.get("Status", "ACTIVE"),
            ou_path=path or "/",
            ou_ids=ou_ids,
        )
    for ou in _pages(
        client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent_id
    ):
        yield from _walk(client, parent_id=ou["Id"], path=f"{path}/{ou['Name']}", ou_ids=(*ou_ids, ou["Id"]))


def _tags(client: BaseClient, resource_id: str) -> dict[str, str]:
    return {
        tag["Key"]: tag["Value"]
        for tag in _pages(client, "list_tags_for_resource", "Tags", ResourceId=resource_id)
    }


def _pages(client: BaseClient, operation: str, key: str, **kwargs: str) -> Iterator[dict]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page[key]
