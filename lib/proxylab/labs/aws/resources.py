"""The AWS lab's resource vocabulary: which stack outputs it needs, what the rest of
proxylab calls them, and the attach mapping file that stands in for a stack.

One table (:data:`RESOURCE_KEYS`) maps the names scenarios and captures use
(``bucket``, ``proxy_url``, ...) to CloudFormation output keys, so a lab built by
`up`, one found by tag and one described by a JSON file all read the same way.
Nothing here calls AWS.
"""

from __future__ import annotations

import json
from pathlib import Path

from proxylab.labs.base import LabError

FUNCTIONS = {"regional": "RegionalFunctionName", "private": "PrivateFunctionName"}
SECURITY_GROUPS = {
    "regional": "RegionalFunctionSecurityGroupId",
    "private": "PrivateFunctionSecurityGroupId",
}
API_URLS = {"regional": "RegionalApiUrl", "private": "PrivateApiUrl"}
# resources key (as in LabDescription / shared facts) -> stack output key
RESOURCE_KEYS = {
    "bucket": "BucketName",
    "source_key": "SourceKey",
    "web_url": "WebUrl",
    "proxy_url": "ProxyUrl",
    "regional_api_id": "RegionalApiId",
    "private_api_id": "PrivateApiId",
    "regional_api_url": "RegionalApiUrl",
    "private_api_url": "PrivateApiUrl",
    "execute_api_vpce_id": "ExecuteApiEndpointId",
    "s3_gateway_vpce_id": "S3GatewayEndpointId",
    "s3_interface_vpce_id": "S3InterfaceEndpointId",
    "regional_function": "RegionalFunctionName",
    "private_function": "PrivateFunctionName",
    "regional_function_sg": "RegionalFunctionSecurityGroupId",
    "private_function_sg": "PrivateFunctionSecurityGroupId",
    "proxy_instance_id": "ProxyInstanceId",
    "proxy_public_ip": "ProxyPublicIp",
    "squid_log_group": "SquidLogGroup",
    "squid_tunnel_idle_s": "SquidTunnelIdleSeconds",
    "regional_api_log_group": "RegionalApiLogGroup",
    "private_api_log_group": "PrivateApiLogGroup",
    "lambda_vpc_id": "LambdaVpcId",
    "lambda_subnet_ids": "LambdaSubnetIds",
    "proxy_vpc_id": "ProxyVpcId",
    "peering_id": "PeeringId",
}
REQUIRED_OUTPUTS = (
    "BucketName",
    "SourceKey",
    "WebUrl",
    "ProxyUrl",
    "RegionalApiUrl",
    "PrivateApiUrl",
    "RegionalFunctionName",
    "PrivateFunctionName",
    "ProxyInstanceId",
    "SquidLogGroup",
    "LambdaVpcId",
)
USABLE_STATUSES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
}


class NoStack(LabError):
    """No usable lab stack: the lab is down (unlike a credentials or API error)."""


def load_mapping(path: str) -> dict[str, str]:
    """Read an attach mapping (stack output names or resource keys -> ids), naming
    every unknown or missing field."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"{path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise LabError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LabError(f"{path}: expected a JSON object of resource names to ids")
    out: dict[str, str] = {}
    for k, v in data.items():
        if not isinstance(v, str):
            raise LabError(f"{path}: field {k!r} must be a string")
        key = RESOURCE_KEYS.get(k, k)
        if key not in RESOURCE_KEYS.values():
            raise LabError(
                f"{path}: unknown field {k!r}; use stack output names "
                f"({', '.join(sorted(RESOURCE_KEYS.values()))}) "
                f"or {', '.join(sorted(RESOURCE_KEYS))}"
            )
        out[key] = v
    missing = [k for k in REQUIRED_OUTPUTS if k not in out]
    if missing:
        raise LabError(f"{path}: missing field(s): {', '.join(missing)}")
    return out


def function_name(out: dict[str, str], variant: str) -> str:
    """The Lambda function of a variant (``regional`` / ``private``)."""
    if variant not in FUNCTIONS:
        raise LabError(f"unknown function variant {variant!r}: use regional or private")
    return out[FUNCTIONS[variant]]


def function_configuration(out: dict[str, str], variant: str) -> dict[str, str]:
    """The probe deployment's own variables, as the seed set them on each function."""
    function_name(out, variant)  # refuses an unknown variant
    return {
        "BUCKET_NAME": out["BucketName"],
        "SOURCE_KEY": out["SourceKey"],
        "API_GATEWAY_URL": out[API_URLS[variant]],
        "WEB_URL": out["WebUrl"],
    }
