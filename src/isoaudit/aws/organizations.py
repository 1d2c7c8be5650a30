"""AWS Organizations: the member accounts, where they sit in the OU tree, and their tags."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

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


def list_accounts(*, aws: AwsSession) -> list[Account]:
    """Every account of the organization, walking the OU tree from the root (one page per parent)."""
    client = aws.client("organizations")
    accounts: list[Account] = []
    for root in _pages(client, "list_roots", "Roots"):
        accounts.extend(_walk(client, parent_id=root["Id"], path="", ou_ids=(root["Id"],)))
    return sorted(accounts, key=lambda account: account.account_id)


def _walk(client: BaseClient, *, parent_id: str, path: str, ou_ids: tuple[str, ...]) -> Iterator[Account]:
    for entry in _pages(client, "list_accounts_for_parent", "Accounts", ParentId=parent_id):
        yield Account(
            account_id=entry["Id"],
            name=entry.get("Name", ""),
            status=entry.get("Status", "ACTIVE"),
            ou_path=path or "/",
            ou_ids=ou_ids,
            tags=_tags(client, entry["Id"]),
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
