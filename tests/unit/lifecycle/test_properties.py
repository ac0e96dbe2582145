"""Properties of the lifecycle evaluator over generated repositories and valid policies (hypothesis).

Tag matching is re-implemented here independently (fnmatch, str.startswith) so the properties do not trust the
evaluator's own matcher.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime, timedelta

from ecr_governance.images import ImageRecord
from ecr_governance.lifecycle.evaluate import evaluate
from ecr_governance.lifecycle.policy import parse_policy
from ecr_governance.lifecycle.preview import preview_result
from ecr_governance.lifecycle.validate import validate_policy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from property_budget import examples

NOW = datetime(2026, 11, 27, tzinfo=UTC)
TAGS = ("prod-1", "prod-2", "dev-1", "dev-22", "staging-1", "latest", "v1.0", "v1.1", "release-arm64")
PREFIXES = ("prod", "dev", "staging", "latest", "v1", "release")
PATTERNS = ("prod-*", "dev-*", "*-arm64", "v1.*", "latest", "*1*")
STORAGE_CLASS_BY_STATUS = {"ACTIVE": "standard", "ARCHIVED": "archive"}

PROPERTY_SETTINGS = settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])


ANY_PUSH_HOURS = st.integers(min_value=0, max_value=24 * 200)
# Few distinct push times: ties that straddle a count boundary must not make the result depend on input order.
TIED_PUSH_HOURS = st.sampled_from((72, 720, 2400))


@st.composite
def repositories(draw, push_hours=ANY_PUSH_HOURS | TIED_PUSH_HOURS) -> list[ImageRecord]:
    count = draw(st.integers(min_value=0, max_value=14))
    images = []
    for index in range(count):
        status = draw(st.sampled_from(("ACTIVE",) * 6 + ("ARCHIVED", "ACTIVATING")))
        pushed_at = NOW - timedelta(hours=draw(push_hours))
        pulled_hours = draw(st.none() | st.integers(min_value=0, max_value=24 * 100))
        activated_hours = draw(st.none() | st.integers(min_value=0, max_value=24 * 100))
        images.append(
            ImageRecord(
                digest=f"sha256:{index:04d}",
                pushed_at=pushed_at,
                tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True))),
                last_pulled_at=None if pulled_hours is None else NOW - timedelta(hours=pulled_hours),
                last_activated_at=None if activated_hours is None else NOW - timedelta(hours=activated_hours),
                last_archived_at=NOW - timedelta(days=draw(st.integers(min_value=0, max_value=400)))
                if status == "ARCHIVED"
                else None,
                status=status,
                size_bytes=draw(st.integers(min_value=0, max_value=10**9)),
            )
        )
    # Some tagged images become manifest lists of some untagged ones.
    untagged = [image.digest for image in images if not image.tags]
    for position, image in enumerate(images):
        if image.tags and untagged and draw(st.booleans()):
            children = tuple(draw(st.lists(st.sampled_from(untagged), min_size=1, max_size=2, unique=True)))
            images[position] = ImageRecord(**{**image.__dict__, "child_digests": children})
    return images


def count_selection(draw, storage_class: str) -> dict:
    if storage_class == "archive":
        return {"countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": draw(st.integers(90, 300))}
    count_type = draw(st.sampled_from(("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled")))
    if count_type == "imageCountMoreThan":
        return {"countType": count_type, "countNumber": draw(st.integers(1, 6))}
    return {"countType": count_type, "countUnit": "days", "countNumber": draw(st.integers(1, 120))}


def action(draw, storage_class: str) -> dict:
    if storage_class == "standard" and draw(st.booleans()) and draw(st.booleans()):
        return {"type": "transition", "targetStorageClass": "archive"}
    return {"type": "expire"}


@st.composite
def policies(draw) -> dict:
    """A policy ECR accepts: unique entries and one untagged rule per class, `any` last in its class."""
    ordinary: list[dict] = []
    last: list[dict] = []
    for storage_class in ("standard", "archive"):
        unused_prefixes, unused_patterns = list(PREFIXES), list(PATTERNS)
        for _ in range(draw(st.integers(0, 3 if storage_class == "standard" else 1))):
            use_patterns = draw(st.booleans())
            pool = unused_patterns if use_patterns else unused_prefixes
            if not pool:
                continue
            entries = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
            for entry in entries:
                pool.remove(entry)
            selection = {"tagStatus": "tagged", "tagPatternList" if use_patterns else "tagPrefixList": entries}
            ordinary.append((storage_class, selection))
        if draw(st.booleans()):
            ordinary.append((storage_class, {"tagStatus": "untagged"}))
        if draw(st.booleans()):
            last.append((storage_class, {"tagStatus": "any"}))
    assume(ordinary or last)
    ordinary = draw(st.permutations(ordinary))
    rules = []
    for priority, (storage_class, selection) in enumerate([*ordinary, *last], start=1):
        selection = {**selection, **count_selection(draw, storage_class)}
        if storage_class == "archive":
            selection["storageClass"] = "archive"
        rules.append({"rulePriority": priority, "selection": selection, "action": action(draw, storage_class)})
    policy = {"rules": rules}
    assert validate_policy(policy).valid, validate_policy(policy).errors
    return policy


def identifies(rule_json: dict, image: ImageRecord) -> bool:
    """Independent oracle of ECR's tag requirements plus storage class."""
    selection = rule_json["selection"]
    if STORAGE_CLASS_BY_STATUS.get(image.status) != selection.get("storageClass", "standard"):
        return False
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return not image.tags
    prefixes = selection.get("tagPrefixList", [])
    patterns = selection.get("tagPatternList", [])
    return (
        bool(image.tags)
        and all(any(tag.startswith(prefix) for tag in image.tags) for prefix in prefixes)
        and all(any(fnmatch.fnmatchcase(tag, pattern) for tag in image.tags) for pattern in patterns)
    )


@PROPERTY_SETTINGS
@given(policy=policies(), images=repositories())
def test_an_image_is_acted_on_by_at_most_one_rule(policy, images):
    decisions = evaluate(parse_policy(policy), images, NOW)
    digests = [decision.image.digest for decision in decisions]
    assert len(digests) == len(set(digests))
    by_priority = {rule["rulePriority"]: rule for rule in policy["rules"]}
    for decision in decisions:
        rule = by_priority[decision.rule_priority]
        assert decision.action == rule["action"]["type"]
        assert identifies(rule, decision.image)


@PROPERTY_SETTINGS
@given(policy=policies(), images=repositories())
def test_no_image_a_higher_rule_identifies_is_acted_on_by_a_lower_rule(policy, images):
    for decision in evaluate(parse_policy(policy), images, NOW):
        higher = [rule for rule in policy["rules"] if rule["rulePriority"] < decision.rule_priority]
        assert not any(identifies(rule, decision.image) for rule in higher), decision


@PROPERTY_SETTINGS
@given(policy=policies(), images=repositories())
def test_counts_keep_the_youngest_and_ages_act_only_past_the_limit(policy, images):
    decisions = evaluate(parse_policy(policy), images, NOW)
    for rule in policy["rules"]:
        selection = rule["selection"]
        acted = {d.image.digest for d in decisions if d.rule_priority == rule["rulePriority"]}
        if selection["countType"] == "imageCountMoreThan":
            # Youngest first; among equal push times the lower digest counts as younger (the documented tie-break).
            identified = sorted(
                (image for image in images if identifies(rule, image)),
                key=lambda image: (-image.pushed_at.timestamp(), image.digest),
            )
            kept = identified[: selection["countNumber"]]
            assert not acted & {image.digest for image in kept}
        elif selection["countType"] == "sinceImagePushed":
            cutoff = NOW - timedelta(days=selection["countNumber"])
            for image in images:
                if image.digest in acted:
                    assert image.pushed_at < cutoff
                    assert image.last_activated_at is None or image.last_activated_at < cutoff


@PROPERTY_SETTINGS
@given(policy=policies(), images=repositories())
def test_images_in_a_manifest_list_are_not_expired_before_it(policy, images):
    expired = {d.image.digest for d in evaluate(parse_policy(policy), images, NOW) if d.action == "expire"}
    for image in images:
        for child in image.child_digests:
            if child in expired:
                assert image.digest in expired


@PROPERTY_SETTINGS
@given(policy=policies(), images=repositories(push_hours=TIED_PUSH_HOURS), data=st.data())
def test_preview_is_deterministic_and_independent_of_input_order(policy, images, data):
    parsed = parse_policy(policy)
    shuffled = data.draw(st.permutations(images))
    first = evaluate(parsed, images, NOW)
    assert evaluate(parsed, shuffled, NOW) == first
    assert evaluate(parsed, list(images), NOW) == first
    assert preview_result(evaluate(parsed, shuffled, NOW), shuffled) == preview_result(first, images)
    rules_shuffled = {"rules": data.draw(st.permutations(policy["rules"]))}
    assert evaluate(parse_policy(rules_shuffled), shuffled, NOW) == first


@PROPERTY_SETTINGS
@given(policy=policies(), images=repositories())
def test_rule_identifies_agrees_with_the_independent_oracle(policy, images):
    parsed = parse_policy(policy)
    by_priority = {rule["rulePriority"]: rule for rule in policy["rules"]}
    for rule in parsed.rules:
        for image in images:
            selected = image.storage_class == rule.storage_class and rule.selects_tags("\n".join(image.tags))
            assert selected == identifies(by_priority[rule.priority], image), (rule, image)
