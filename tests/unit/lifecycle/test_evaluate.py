"""The lifecycle evaluator against AWS's documented semantics.

Each `test_aws_example_*` is a worked example from AWS's "Examples of lifecycle policies" page (repository contents,
policy text and documented result copied from the page); the other tests pin the evaluation rules one by one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.images import ImageDetailError, ImageRecord, image_from_detail
from ecr_governance.lifecycle.evaluate import evaluate
from ecr_governance.lifecycle.policy import LifecyclePolicyError, parse_policy
from ecr_governance.lifecycle.preview import preview_result

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def image(name: str, days_ago: float, *tags: str, **details) -> ImageRecord:
    return ImageRecord(digest=f"sha256:{name}", pushed_at=NOW - timedelta(days=days_ago), tags=tags, **details)


def rule(priority: int, tag_status: str, count_type: str, count_number: int, **extra) -> dict:
    selection = {"tagStatus": tag_status, "countType": count_type, "countNumber": count_number}
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    action = {"type": "expire"}
    for key in ("tagPrefixList", "tagPatternList", "storageClass"):
        if key in extra:
            selection[key] = extra.pop(key)
    if "targetStorageClass" in extra:
        action = {"type": "transition", "targetStorageClass": extra.pop("targetStorageClass")}
    assert not extra, extra
    return {"rulePriority": priority, "description": f"Rule {priority}", "selection": selection, "action": action}


def acted_on(policy, images, now=NOW) -> dict[str, tuple[str, int]]:
    """image name -> (action, rule priority)."""
    decisions = evaluate(parse_policy(policy), images, now)
    return {d.image.digest.removeprefix("sha256:"): (d.action, d.rule_priority) for d in decisions}


def expired(policy, images, now=NOW) -> set[str]:
    return {name for name, (action, _) in acted_on(policy, images, now).items() if action == "expire"}


# ---- AWS "Examples of lifecycle policies" ---------------------------------------------------------------------


def test_aws_example_filtering_on_image_age_untagged():
    policy = {"rules": [rule(1, "untagged", "sinceImagePushed", 14)]}
    images = [image("old", 15), image("new", 13), image("tagged-old", 30, "v1")]
    assert expired(policy, images) == {"old"}


def test_aws_example_filtering_on_image_age_prod_pattern():
    policy = {"rules": [rule(1, "tagged", "sinceImagePushed", 14, tagPatternList=["prod*"])]}
    images = [image("prod-old", 15, "prod-7"), image("prod-new", 13, "prod-8"), image("dev-old", 30, "dev-1")]
    assert expired(policy, images) == {"prod-old"}


def test_aws_example_filtering_on_image_count_keeps_one_untagged():
    policy = {"rules": [rule(1, "untagged", "imageCountMoreThan", 1)]}
    images = [image("u1", 3), image("u2", 2), image("u3", 1), image("t", 5, "v1")]
    assert expired(policy, images) == {"u1", "u2"}


MULTIPLE_RULES_REPOSITORY = [
    image("A", 10, "beta-1", "prod-1"),
    image("B", 9, "beta-2", "prod-2"),
    image("C", 8, "beta-3"),
]


def test_aws_example_multiple_rules_a_higher_rule_protects_what_it_identifies():
    policy = {
        "rules": [
            rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["prod"]),
            rule(2, "tagged", "imageCountMoreThan", 1, tagPrefixList=["beta"]),
        ]
    }
    # Rule 2 would mark A and B, but A is taken by rule 1 and B was identified by rule 1.
    assert acted_on(policy, MULTIPLE_RULES_REPOSITORY) == {"A": ("expire", 1)}


def test_aws_example_multiple_rules_b_reordered():
    policy = {
        "rules": [
            rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["beta"]),
            rule(2, "tagged", "imageCountMoreThan", 1, tagPrefixList=["prod"]),
        ]
    }
    assert acted_on(policy, MULTIPLE_RULES_REPOSITORY) == {"A": ("expire", 1), "B": ("expire", 1)}


# AWS writes these two examples with tagPrefixList ["alpha", "beta"]; the equivalent tagPatternList
# ["alpha*", "beta*"] (the page's recommended form) must give the documented result too.
MULTIPLE_TAG_LISTS = [{"tagPrefixList": ["alpha", "beta"]}, {"tagPatternList": ["alpha*", "beta*"]}]


@pytest.mark.parametrize("tag_list", MULTIPLE_TAG_LISTS)
def test_aws_example_multiple_tags_a_all_prefixes_must_match(tag_list):
    images = [
        image("A", 12, "alpha-1"),
        image("B", 11, "beta-1"),
        image("C", 10, "alpha-2", "beta-2"),
        image("D", 4, "alpha-3"),
        image("E", 3, "beta-3"),
        image("F", 2, "alpha-4", "beta-4"),
    ]
    policy = {"rules": [rule(1, "tagged", "sinceImagePushed", 5, **tag_list)]}
    assert expired(policy, images) == {"C"}


@pytest.mark.parametrize("tag_list", MULTIPLE_TAG_LISTS)
def test_aws_example_multiple_tags_b_tags_are_not_exclusive(tag_list):
    images = [
        image("A", 10, "alpha-1", "beta-1", "gamma-1"),
        image("B", 9, "alpha-2", "beta-2"),
        image("C", 8, "alpha-3", "beta-3", "gamma-2"),
    ]
    policy = {"rules": [rule(1, "tagged", "imageCountMoreThan", 1, **tag_list)]}
    assert expired(policy, images) == {"A", "B"}


def test_aws_example_all_images_a_any_keeps_the_newest():
    images = [image("A", 4, "alpha-1"), image("B", 3, "beta-1"), image("C", 2), image("D", 1, "alpha-2")]
    policy = {"rules": [rule(1, "any", "imageCountMoreThan", 1)]}
    assert expired(policy, images) == {"A", "B", "C"}


def test_aws_example_all_images_b_combines_every_rule_type():
    images = [
        image("A", 4, "alpha-1", "beta-1"),
        image("B", 3),
        image("C", 2, "alpha-2"),
        image("D", 1, "git hash"),
        # "Pushed: 1 day ago" like D but listed after it, i.e. pushed later: the newest image, which rule 3 keeps.
        image("E", 1 - 1 / 1440),
    ]
    policy = {
        "rules": [
            rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["alpha"]),
            rule(2, "untagged", "sinceImagePushed", 1),
            rule(3, "any", "imageCountMoreThan", 1),
        ]
    }
    # Rule 3 cannot mark A, B, C or E: rules 1 and 2 identified them (E is untagged, kept by rule 2's age).
    assert acted_on(policy, images) == {"A": ("expire", 1), "B": ("expire", 2), "D": ("expire", 3)}


# ---- evaluation rules -----------------------------------------------------------------------------------------


def test_multi_prefix_rule_selects_only_images_with_all_prefixes():
    """The seed's mistake: one rule listing prod, dev, staging, latest cleans almost nothing."""
    images = [image(f"dev{i}", 30 + i, f"dev-{i}") for i in range(5)] + [image("prod", 40, "prod-1")]
    mistaken = {
        "rules": [rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["prod", "dev", "staging", "latest"])]
    }
    assert expired(mistaken, images) == set()
    corrected = {"rules": [rule(2, "tagged", "imageCountMoreThan", 1, tagPrefixList=["dev"])]}
    assert expired(corrected, images) == {"dev1", "dev2", "dev3", "dev4"}


def test_tag_pattern_wildcards_match_anywhere_and_the_whole_tag():
    images = [
        image("a", 9, "release-1.2-arm64"),
        image("b", 9, "release-1.2-amd64"),
        image("c", 9, "prerelease-1.2-arm64"),
        image("d", 9, "release-1.2-arm64-debug"),
    ]
    policy = {"rules": [rule(1, "tagged", "sinceImagePushed", 1, tagPatternList=["release-*-arm64"])]}
    assert expired(policy, images) == {"a"}


def test_pattern_list_with_several_entries_requires_each_to_match_some_tag():
    images = [image("both", 9, "prod-1", "sha-abc"), image("one", 9, "prod-2")]
    policy = {"rules": [rule(1, "tagged", "sinceImagePushed", 1, tagPatternList=["prod-*", "sha-*"])]}
    assert expired(policy, images) == {"both"}


def test_higher_rule_protects_by_tags_even_when_its_count_does_not_fire():
    images = [image("release", 400, "v1.0.0"), image("scratch", 30)]
    policy = {
        "rules": [
            rule(1, "tagged", "imageCountMoreThan", 50, tagPrefixList=["v"]),  # keeps 50 releases: never fires here
            rule(2, "any", "sinceImagePushed", 7),
        ]
    }
    assert expired(policy, images) == {"scratch"}


def test_lower_rule_counts_images_marked_or_protected_by_higher_rules():
    images = [image("new", 1, "app-3"), image("mid", 2, "app-2", "keep"), image("old", 3, "app-1")]
    policy = {
        "rules": [
            rule(1, "tagged", "imageCountMoreThan", 5, tagPrefixList=["keep"]),
            rule(2, "tagged", "imageCountMoreThan", 2, tagPrefixList=["app"]),
        ]
    }
    # Rule 2 keeps the two youngest app images, "new" and "mid" ("mid" counts although rule 1 protects it).
    assert expired(policy, images) == {"old"}


def test_count_keeps_youngest_by_push_time_whatever_the_input_order():
    images = [image("u3", 1), image("u1", 3), image("u2", 2)]
    policy = {"rules": [rule(1, "untagged", "imageCountMoreThan", 2)]}
    assert expired(policy, images) == {"u1"}
    assert expired(policy, list(reversed(images))) == {"u1"}


def test_age_is_strictly_older_than_count_number_days():
    images = [image("exact", 7), image("older", 7 + 1 / 86400)]
    assert expired({"rules": [rule(1, "untagged", "sinceImagePushed", 7)]}, images) == {"older"}


def test_since_image_pulled_uses_last_pull_and_falls_back_to_push_time():
    images = [
        image("pulled-recently", 100, last_pulled_at=NOW - timedelta(days=2)),
        image("pulled-long-ago", 100, last_pulled_at=NOW - timedelta(days=40)),
        image("never-pulled-old", 40),
        image("never-pulled-new", 5),
    ]
    policy = {"rules": [rule(1, "untagged", "sinceImagePulled", 30)]}
    assert expired(policy, images) == {"pulled-long-ago", "never-pulled-old"}


def test_restored_image_ages_from_its_last_activation():
    restored = image("restored", 200, last_activated_at=NOW - timedelta(days=3))
    policy = {"rules": [rule(1, "untagged", "sinceImagePushed", 30)]}
    assert expired(policy, [restored, image("plain", 200)]) == {"plain"}
    pulled_policy = {"rules": [rule(1, "untagged", "sinceImagePulled", 30)]}
    restored_after_pull = image(
        "restored", 200, last_pulled_at=NOW - timedelta(days=150), last_activated_at=NOW - timedelta(days=3)
    )
    assert expired(pulled_policy, [restored_after_pull]) == set()


def test_transition_archives_standard_images_and_summary_counts_them():
    images = [image("cold", 100, "v1"), image("warm", 100, "v2", last_pulled_at=NOW - timedelta(days=1))]
    policy = {"rules": [rule(1, "tagged", "sinceImagePulled", 90, tagPatternList=["v*"], targetStorageClass="archive")]}
    decisions = evaluate(parse_policy(policy), images, NOW)
    assert [(d.image.digest, d.action, d.target_storage_class) for d in decisions] == [
        ("sha256:cold", "transition", "archive")
    ]
    preview = preview_result(decisions, images)
    assert preview["previewResults"][0]["action"] == {"type": "TRANSITION", "targetStorageClass": "ARCHIVE"}
    assert preview["summary"]["transitioningImageTotalCount"] == 1
    assert preview["summary"]["expiringImageTotalCount"] == 0


def test_storage_class_selects_active_or_archived_images_only():
    archived_long_ago = image("archived", 400, status="ARCHIVED", last_archived_at=NOW - timedelta(days=200))
    archived_recently = image("recent", 400, status="ARCHIVED", last_archived_at=NOW - timedelta(days=30))
    activating = image("activating", 400, status="ACTIVATING", last_archived_at=NOW - timedelta(days=200))
    active = image("active", 400)
    policy = {
        "rules": [
            rule(1, "any", "sinceImageTransitioned", 180, storageClass="archive"),
            rule(2, "any", "sinceImagePushed", 365, targetStorageClass="archive"),
        ]
    }
    assert acted_on(policy, [archived_long_ago, archived_recently, activating, active]) == {
        "archived": ("expire", 1),
        "active": ("transition", 2),
    }


def test_archive_rules_do_not_protect_standard_images():
    images = [image("std", 30, "prod-1"), image("arch", 300, "prod-0", status="ARCHIVED", last_archived_at=NOW)]
    policy = {
        "rules": [
            rule(1, "tagged", "sinceImageTransitioned", 90, tagPrefixList=["prod"], storageClass="archive"),
            rule(2, "tagged", "sinceImagePushed", 7, tagPrefixList=["prod"]),
        ]
    }
    assert expired(policy, images) == {"std"}


def test_image_in_manifest_list_is_not_expired_before_the_list():
    index = image("index", 1, "v2", child_digests=("sha256:arm", "sha256:amd"))
    children = [image("amd", 1.5), image("arm", 2), image("orphan", 3)]
    policy = {"rules": [rule(1, "untagged", "imageCountMoreThan", 1)]}
    # Rule 1 keeps "amd" and marks "arm" and "orphan"; "arm" stays because the list referencing it stays.
    assert expired(policy, [index, *children]) == {"orphan"}


def test_children_go_with_their_manifest_list_when_it_is_expired_too():
    index = image("index", 10, "nightly-1", child_digests=("sha256:arm", "sha256:amd"))
    children = [image("arm", 10), image("amd", 10)]
    policy = {
        "rules": [
            rule(1, "tagged", "sinceImagePushed", 5, tagPrefixList=["nightly"]),
            rule(2, "untagged", "sinceImagePushed", 5),
        ]
    }
    assert expired(policy, [index, *children]) == {"index", "arm", "amd"}
    kept_index = {"rules": [rule(2, "untagged", "sinceImagePushed", 5)]}
    assert expired(kept_index, [index, *children]) == set()


def test_an_image_is_acted_on_by_one_rule_only():
    images = [image(f"u{i}", i + 1) for i in range(6)]
    policy = {"rules": [rule(1, "untagged", "imageCountMoreThan", 2), rule(2, "any", "sinceImagePushed", 1)]}
    decisions = evaluate(parse_policy(policy), images, NOW)
    assert len({d.image.digest for d in decisions}) == len(decisions) == 4
    assert {d.rule_priority for d in decisions} == {1}


# ---- image details and preview shape --------------------------------------------------------------------------


def test_image_from_detail_reads_boto3_iso_and_epoch_timestamps():
    pushed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    base = {"imageDigest": "sha256:x", "imageTags": ["v1"], "imageSizeInBytes": 42}
    from_boto3 = image_from_detail({**base, "imagePushedAt": pushed, "lastRecordedPullTime": pushed})
    from_iso = image_from_detail({**base, "imagePushedAt": "2026-01-02T03:04:05Z"})
    from_offset = image_from_detail({**base, "imagePushedAt": "2026-01-02T12:04:05+09:00"})
    from_epoch = image_from_detail({**base, "imagePushedAt": pushed.timestamp()})
    assert from_boto3.pushed_at == from_iso.pushed_at == from_offset.pushed_at == from_epoch.pushed_at == pushed
    assert from_boto3.last_pulled_at == pushed
    assert from_boto3.tags == ("v1",) and from_boto3.size_bytes == 42 and from_boto3.storage_class == "standard"


def test_image_from_detail_reads_manifest_list_children_from_either_field():
    by_list = image_from_detail({"imageDigest": "sha256:i", "imagePushedAt": 0, "childImageDigests": ["sha256:c"]})
    manifest = {"schemaVersion": 2, "manifests": [{"digest": "sha256:c1"}, {"digest": "sha256:c2"}]}
    by_manifest = image_from_detail(
        {"imageDigest": "sha256:i", "imagePushedAt": 0, "imageManifest": json.dumps(manifest)}
    )
    assert by_list.child_digests == ("sha256:c",)
    assert by_manifest.child_digests == ("sha256:c1", "sha256:c2") and by_manifest.is_index


@pytest.mark.parametrize("detail", [{"imagePushedAt": 0}, {"imageDigest": "sha256:x", "imagePushedAt": "yesterday"}])
def test_image_from_detail_rejects_details_without_digest_or_with_an_unreadable_push_time(detail):
    with pytest.raises(ImageDetailError):
        image_from_detail(detail)


def test_an_image_without_a_push_time_is_read_but_cannot_be_evaluated():
    unknown_age = image_from_detail({"imageDigest": "sha256:x"})
    assert unknown_age.pushed_at is None
    with pytest.raises(ImageDetailError, match="imagePushedAt.*sha256:x"):
        evaluate(parse_policy({"rules": [rule(1, "any", "imageCountMoreThan", 1)]}), [unknown_age], NOW)


def test_preview_result_has_the_get_lifecycle_policy_preview_shape():
    images = [image("u1", 3, size_bytes=5), image("u2", 2, size_bytes=10), image("u3", 1)]
    decisions = evaluate(parse_policy({"rules": [rule(7, "untagged", "imageCountMoreThan", 1)]}), images, NOW)
    preview = preview_result(decisions, images)
    assert preview["previewResults"] == [
        {
            "imageDigest": "sha256:u1",
            "imageTags": [],
            "imagePushedAt": "2026-11-24T12:00:00Z",
            "action": {"type": "EXPIRE"},
            "appliedRulePriority": 7,
            "storageClass": "STANDARD",
        },
        {
            "imageDigest": "sha256:u2",
            "imageTags": [],
            "imagePushedAt": "2026-11-25T12:00:00Z",
            "action": {"type": "EXPIRE"},
            "appliedRulePriority": 7,
            "storageClass": "STANDARD",
        },
    ]
    assert preview["summary"]["expiringImageTotalCount"] == 2
    assert preview["summary"]["transitioningImageTotalCount"] == 0
    assert preview["summary"]["expiringImageTotalBytes"] == 15
    assert preview["summary"]["evaluatedImageTotalCount"] == 3


def test_parse_policy_names_rule_and_field_of_a_malformed_rule():
    bad = {"rules": [rule(1, "untagged", "sinceImagePushed", 14), rule(2, "untagged", "imageCountMoreThan", 0)]}
    with pytest.raises(LifecyclePolicyError, match=r"^rule 2: selection\.countNumber: "):
        parse_policy(bad)
    with pytest.raises(LifecyclePolicyError, match="not valid JSON"):
        parse_policy("{rules: ")
    assert [
        r.priority
        for r in parse_policy(
            json.dumps(
                {"rules": [rule(5, "any", "imageCountMoreThan", 1), rule(2, "untagged", "imageCountMoreThan", 1)]}
            )
        ).rules
    ] == [2, 5]


def test_conflicting_duplicate_digests_are_rejected():
    with pytest.raises(ImageDetailError, match="listed twice"):
        evaluate(
            parse_policy({"rules": [rule(1, "any", "imageCountMoreThan", 1)]}), [image("x", 1), image("x", 2)], NOW
        )


def test_image_record_keeps_tags_as_a_tuple_and_refuses_line_breaks():
    assert ImageRecord(digest="sha256:x", pushed_at=NOW, tags=["v1", "prod-1"]).tags == ("v1", "prod-1")
    with pytest.raises(ImageDetailError, match="line break"):
        image_from_detail({"imageDigest": "sha256:x", "imagePushedAt": 0, "imageTags": ["prod-1\nv1"]})


def test_a_live_preview_refuses_to_guess_when_a_manifest_it_needs_cannot_be_read():
    """An index whose manifest did not come back would leave its platform manifests looking expirable: the preview
    names the digest and why instead of showing a wrong blast radius."""
    from ecr_governance.images import OCI_INDEX, ManifestRead
    from ecr_governance.lifecycle.preview import UnreadManifests, read_repository_images

    class Source:
        def describe_images(self, repository_name, include_archived=False):
            return [image("index", 3, "v1", manifest_media_type=OCI_INDEX)]

        def get_manifests(self, repository_name, digests):
            return ManifestRead(unread={d: "KmsError: key disabled" for d in digests})

    with pytest.raises(UnreadManifests, match="team/app: 1 manifest.*KmsError"):
        read_repository_images(Source(), "team/app")
