"""The deployable guardrails in infra/, by name: what `isoaudit guardrails` lists and prints.

Apart from `isoaudit.guardrails` (which reads the SCPs in effect with pandas) so that the command line can
name them in its parser without loading pandas before `isoaudit run` starts Prefect's server."""

from __future__ import annotations

from pathlib import Path

# Packaged as isoaudit/infra in a wheel, at the project's root in a checkout
# (src/isoaudit/guardrail_files.py -> <project>/infra).
_PACKAGED = Path(__file__).resolve().parent / "infra"
INFRA = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "infra"
SCP_PATH = INFRA / "deny-training-without-isolation.json"
GUARDRAILS = {
    "role": (INFRA / "audit-role.yaml", "CloudFormation: the read-only audit role, for a StackSet"),
    "auditor": (INFRA / "auditor-policy.yaml", "CloudFormation: the policy of whoever runs isoaudit"),
    "scp": (SCP_PATH, "Service control policy: no SageMaker job or model without network isolation"),
    "detect": (
        INFRA / "detect-non-isolated-jobs.yaml",
        "CloudFormation, for a StackSet in every region: forwards each non-isolated job created, in minutes",
    ),
    "detect-central": (
        INFRA / "detect-central.yaml",
        "CloudFormation, auditing account: the detections' event bus and its SNS alert (optional SQS queue)",
    ),
    "sdk-defaults": (
        INFRA / "sagemaker-sdk-defaults.yaml",
        "SageMaker Python SDK administrator defaults: network isolation on unless code says otherwise",
    ),
}
