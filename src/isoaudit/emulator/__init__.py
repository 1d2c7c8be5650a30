"""An embedded AWS emulator (moto, in this process) and a demo AWS Organization to audit.

The only package of isoaudit that imports moto; a demo dependency (`isoaudit[demo]`), never needed to
audit real AWS.
"""

from isoaudit.emulator.demo import demo_spec
from isoaudit.emulator.organization import (
    AccountSpec,
    BuiltOrganization,
    JobSpec,
    OrganizationSpec,
    TuningJobSpec,
    build_organization,
    management_session,
)
from isoaudit.emulator.server import BrokenAnswer, Emulator, Faults, start_emulator

__all__ = [
    "AccountSpec",
    "BrokenAnswer",
    "BuiltOrganization",
    "Emulator",
    "Faults",
    "JobSpec",
    "OrganizationSpec",
    "TuningJobSpec",
    "build_organization",
    "demo_spec",
    "management_session",
    "start_emulator",
]
