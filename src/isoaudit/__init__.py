"""isoaudit: weekly audit of SageMaker network isolation across an AWS Organization."""

__version__ = "0.1.0"
