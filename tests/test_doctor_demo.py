"""`isoaudit doctor` on the demo organization, set up as `isoaudit demo` sets it up: everything passes but
the one account whose audit role was never deployed, which --all finds and names."""

from __future__ import annotations

from isoaudit.config import load_config
from isoaudit.doctor import run_checks
from isoaudit.emulator.demo import demo_spec
from isoaudit.emulator.mail import demo_email, verify_sender
from isoaudit.emulator.organization import build_organization


def test_doctor_passes_on_the_demo_organization_and_finds_its_missing_role(emulator) -> None:
    emulator.reset()
    spec = demo_spec(weeks=1)
    organization = build_organization(endpoint_url=emulator.url, spec=spec)
    email = demo_email(spec)
    verify_sender(endpoint_url=emulator.url, sender=email["sender"])
    (no_role,) = [account for account in spec.accounts if not account.audit_role]
    config = load_config(
        None,
        bucket=organization.bucket,
        endpoint_url=emulator.url,
        role_name=spec.audit_role_name,
        email=email,
    )
    checks = run_checks(config, every_account=True)
    failed = [check for check in checks if not check.ok]
    no_role_id = organization.account_ids[no_role.key]
    assert [check.name for check in failed] == [f"audit role in {no_role.name} ({no_role_id})"]
    assert "does not exist" in failed[0].detail
    assert sum(check.name.startswith("audit role in ") for check in checks) == len(spec.accounts) + 1

    without_gap = load_config(
        None,
        bucket=organization.bucket,
        endpoint_url=emulator.url,
        role_name=spec.audit_role_name,
        email=email,
        exclude_accounts=[no_role_id],
    )
    assert [check for check in run_checks(without_gap, every_account=True) if not check.ok] == []
