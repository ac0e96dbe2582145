"""An in-memory stand-in for the ECR registry settings moto 5.2.5 lacks - repository creation templates, pull-through
cache rules, pull-time update exclusions, managed signing - so the demo runs enforcement's real adapter and service
on them. A botocore `before-call` hook answers those operations (botocore still validates every request and parses
every answer); every other call goes on to the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACCOUNT = "123456789012"
# (operation name, its parameters) -> (an HTTP answer, the parsed response), or None to send the request on.
Answerer = Callable[[str, dict[str, Any]], tuple[Any, dict[str, Any]] | None]


def answer_in_memory(client: Any, answerer: Answerer) -> Any:
    """Let `answerer` answer the client's calls before any is sent (botocore validates each request and parses
    each answer as for a real one). One answerer a client: a second registration is ignored, so a caller that gets
    a kept client again may attach it again."""

    def remember_parameters(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["api_parameters"] = dict(params)  # before-call sees the serialized request, not the parameters

    def answer(model: Any, context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        return answerer(model.name, context.get("api_parameters", {}))

    client.meta.events.register("before-parameter-build.*.*", remember_parameters, unique_id="stand-in-parameters")
    client.meta.events.register_first("before-call.*.*", answer, unique_id="stand-in-answer")
    return client


class _Answer:
    def __init__(self, status_code: int):
        self.status_code = status_code
        self.headers: dict[str, str] = {}


class RegistrySettingsStandIn:
    def __init__(self, cache_prefixes: tuple[str, ...] = ()):
        self.templates: dict[str, dict[str, Any]] = {}
        self.cache_prefixes = cache_prefixes
        self.exclusions: list[str] = []

    def attach(self, client: Any) -> Any:
        return answer_in_memory(client, self._answer)

    def _answer(self, operation_name: str, params: dict[str, Any]) -> tuple[_Answer, dict[str, Any]] | None:
        operation = getattr(self, f"_{operation_name}", None)
        return None if operation is None else operation(params)  # None: the emulator serves it

    @staticmethod
    def _ok(body: dict[str, Any]) -> tuple[_Answer, dict[str, Any]]:
        return _Answer(200), body

    @staticmethod
    def _error(code: str, message: str) -> tuple[_Answer, dict[str, Any]]:
        return _Answer(400), {"Error": {"Code": code, "Message": message}}

    def _DescribeRepositoryCreationTemplates(self, params: dict[str, Any]) -> tuple[_Answer, dict[str, Any]]:
        return self._ok({"registryId": ACCOUNT, "repositoryCreationTemplates": list(self.templates.values())})

    def _CreateRepositoryCreationTemplate(self, params: dict[str, Any]) -> tuple[_Answer, dict[str, Any]]:
        if params["prefix"] in self.templates:
            return self._error("TemplateAlreadyExistsException", f"template {params['prefix']} exists")
        self.templates[params["prefix"]] = params
        return self._ok({"registryId": ACCOUNT, "repositoryCreationTemplate": params})

    def _UpdateRepositoryCreationTemplate(self, params: dict[str, Any]) -> tuple[_Answer, dict[str, Any]]:
        if params["prefix"] not in self.templates:
            return self._error("TemplateNotFoundException", f"no template {params['prefix']}")
        self.templates[params["prefix"]] = {**self.templates[params["prefix"]], **params}
        return self._ok({"registryId": ACCOUNT, "repositoryCreationTemplate": self.templates[params["prefix"]]})

    def _DescribePullThroughCacheRules(self, params: dict[str, Any]) -> tuple[_Answer, dict[str, Any]]:
        rules = [{"ecrRepositoryPrefix": prefix, "registryId": ACCOUNT} for prefix in self.cache_prefixes]
        return self._ok({"pullThroughCacheRules": rules})

    def _ListPullTimeUpdateExclusions(self, params: dict[str, Any]) -> tuple[_Answer, dict[str, Any]]:
        return self._ok({"pullTimeUpdateExclusions": list(self.exclusions)})

    def _GetSigningConfiguration(self, params: dict[str, Any]) -> tuple[_Answer, dict[str, Any]]:
        return self._error("SigningConfigurationNotFoundException", "no signing configuration")
