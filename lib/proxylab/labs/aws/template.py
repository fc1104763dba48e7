"""The CloudFormation template: loading it, its parameters from an endpoint layout,
and the list of resources a given set of parameters creates (for `up`'s plan).

No cfn-lint at run time (it is a test dependency): a tiny YAML loader that keeps
CloudFormation's short-form tags (``!Ref`` ...) as their long ``Fn::`` forms is enough
to evaluate the template's conditions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from proxylab.labs.base import EndpointLayout

TEMPLATE_PATH = Path(__file__).with_name("template.yaml")
TAG_KEY = "proxylab:lab"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads ``!Ref x`` as ``{"Ref": x}`` and ``!Sub s`` as ``{"Fn::Sub": s}``."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def template_body() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


def load(body: str | None = None) -> dict[str, Any]:
    return yaml.load(body if body is not None else template_body(), Loader=_CfnLoader)  # noqa: S506


def _flag(value: bool) -> str:
    return "true" if value else "false"


def parameters_for(
    name: str, endpoints: EndpointLayout, s3_interface: bool = False, **extra: str
) -> dict[str, str]:
    """Stack parameters for a lab name and an endpoint layout (``extra``: any other
    template parameter, e.g. ``ProxyInstanceType``)."""
    params = {
        "LabName": name,
        "EnableS3GatewayEndpoint": _flag(endpoints.s3_gateway),
        "EnableExecuteApiEndpoint": _flag(endpoints.execute_api_interface),
        "ExecuteApiPrivateDns": _flag(endpoints.execute_api_private_dns),
        "EnableS3InterfaceEndpoint": _flag(s3_interface),
    }
    params.update(extra)
    return params


def endpoints_from_parameters(params: dict[str, str]) -> EndpointLayout:
    """The layout a stack stands in (private-API public DNS is AWS's, see docs/aws.md)."""
    return EndpointLayout(
        s3_gateway=params.get("EnableS3GatewayEndpoint", "true") == "true",
        execute_api_interface=params.get("EnableExecuteApiEndpoint", "true") == "true",
        execute_api_private_dns=params.get("ExecuteApiPrivateDns", "true") == "true",
        private_api_public_dns="nxdomain",
    )


def resolved_parameters(tpl: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    out = {k: str(v.get("Default", "")) for k, v in tpl.get("Parameters", {}).items()}
    out.update(given)
    return out


def _eval(expr: Any, params: dict[str, str], conds: dict[str, Any], cache: dict[str, bool]) -> Any:
    if isinstance(expr, dict) and len(expr) == 1:
        ((key, value),) = expr.items()
        if key == "Ref":
            return params.get(value, value)
        if key == "Condition":
            return condition(value, params, conds, cache)
        if key == "Fn::Equals":
            a, b = (_eval(v, params, conds, cache) for v in value)
            return str(a) == str(b)
        if key == "Fn::Not":
            return not _eval(value[0], params, conds, cache)
        if key == "Fn::Or":
            return any(_eval(v, params, conds, cache) for v in value)
        if key == "Fn::And":
            return all(_eval(v, params, conds, cache) for v in value)
    return expr


def condition(
    name: str, params: dict[str, str], conds: dict[str, Any], cache: dict[str, bool]
) -> bool:
    if name not in cache:
        cache[name] = bool(_eval(conds[name], params, conds, cache))
    return cache[name]


def planned_resources(params: dict[str, str], body: str | None = None) -> list[tuple[str, str]]:
    """(logical id, type) of every resource the template creates with these parameters."""
    tpl = load(body)
    values = resolved_parameters(tpl, params)
    conds = tpl.get("Conditions", {})
    cache: dict[str, bool] = {}
    out = []
    for logical_id, res in tpl["Resources"].items():
        cond = res.get("Condition")
        if cond and not condition(cond, values, conds, cache):
            continue
        out.append((logical_id, res["Type"]))
    return out
