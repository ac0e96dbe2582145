"""ecr-governance: keep every Amazon ECR repository of an account compliant and clean."""

__version__ = "0.1.0"

# Powertools service name: the handlers' loggers and the domain modules' child loggers must share it.
SERVICE_NAME = "ecr-governance"
