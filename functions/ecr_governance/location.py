"""Where a function runs - partition, account, region - and the check that an event or an ARN is from there: what
comes from another partition, account or region is not this function's to read or act on."""

from __future__ import annotations

from dataclasses import dataclass

from ecr_governance.errors import InvalidEvent


@dataclass(frozen=True)
class Location:
    partition: str
    account: str
    region: str

    @classmethod
    def of_arn(cls, arn: str) -> Location:
        """The location an ARN names (arn:PARTITION:SERVICE:REGION:ACCOUNT:...); empty parts when it is none."""
        parts = arn.split(":")
        return cls(parts[1], parts[4], parts[3]) if len(parts) > 4 and parts[0] == "arn" else cls("", "", "")

    def check(self, account: str, region: str, partition: str | None = None, what: str = "event") -> None:
        """InvalidEvent unless `account`, `region` (and `partition`, when one is named) are this location's."""
        theirs = f"{partition or self.partition} account {account} in {region}"
        if (account, region) != (self.account, self.region) or partition not in (None, self.partition):
            ours = f"{self.partition} account {self.account} in {self.region}"
            raise InvalidEvent(f"{what} is from {theirs}: this function acts only on {ours}")
