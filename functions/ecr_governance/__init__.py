"""ecr-governance: keep every Amazon ECR repository of an account compliant and clean."""

__version__ = "0.1.0"
