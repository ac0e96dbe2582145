"""A repository as DescribeRepositories describes it: the record every capability reads (enforcement decides on it,
the sweep and the findings reports list by it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Repository:
    """What DescribeRepositories tells about one repository."""

    name: str
    arn: str
    tag_mutability: str
    exclusion_filters: tuple[str, ...] = ()
    scan_on_push: bool = False
    uri: str = ""
    encryption_type: str = "AES256"  # AES256 | KMS | KMS_DSSE, fixed when the repository is created
    kms_key: str = ""  # the KMS key ARN when encrypted with KMS

    @property
    def account(self) -> str:
        """The registry's account: the ARN's fifth field (arn:partition:ecr:region:account:repository/name)."""
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else ""

    @property
    def region(self) -> str:
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 5 else ""
