"""The Resource Groups Tagging API adapter: one tag key of every ECR repository, in pages of 100.

GetResources with a TagFilter on the key returns only the repositories carrying it (never untagged ones), so a full
reconcile learns every exemption in a few calls instead of one ListTagsForResource per repository. The API is
eventually consistent (a tag set seconds ago may be missing): event-driven handling of one repository keeps reading
its tags directly.
"""

from __future__ import annotations

from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires

RESOURCES_PER_PAGE = 100
REPOSITORY_ARN_MARKER = ":repository/"


class TaggingApi:
    def __init__(self, tagging_client: Any):
        self._tagging = tagging_client

    @requires("tag:GetResources")
    def repository_tag_values(self, tag_key: str) -> dict[str, str]:
        values: dict[str, str] = {}
        with translated("GetResources", "tag"):
            for page in self._tagging.get_paginator("get_resources").paginate(
                ResourceTypeFilters=["ecr:repository"],
                TagFilters=[{"Key": tag_key}],
                ResourcesPerPage=RESOURCES_PER_PAGE,
            ):
                for resource in page.get("ResourceTagMappingList", []):
                    arn = resource.get("ResourceARN", "")
                    if REPOSITORY_ARN_MARKER not in arn:
                        continue
                    name = arn.split(REPOSITORY_ARN_MARKER, 1)[1]
                    for tag in resource.get("Tags", []):
                        if tag.get("Key") == tag_key:
                            values[name] = tag.get("Value", "")
        return values
