"""Where botocore sends one AWS call, asked of botocore itself, without a request.

A client is built by botocore's own code with a scenario's variables - read by
botocore's own config chains (``ConfigChainFactory``, ``ConfiguredEndpointProvider``)
from the scenario's dict instead of ``os.environ``, which is never read or
changed - and the call is made with a ``before-send`` hook that stops it before
anything is sent. So the client's endpoint URL (what botocore decides the proxy
against, once, at creation) and the operation's request URL (virtual-hosted or
path-style, dual-stack, FIPS, global or regional, ``AWS_ENDPOINT_URL_<SERVICE>``,
``AWS_STS_REGIONAL_ENDPOINTS``, ``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT``...) are
botocore's answers, not rules written here.

Lambda has no AWS config file, so none is read (``config_file`` is ``/dev/null``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from proxylab.vocab import EndpointSource

# Dummy credentials: the request is signed (so botocore builds it completely) and
# never sent.
_CREDS = {"aws_access_key_id": "AKIDPROXYLABPREDICT", "aws_secret_access_key": "x"}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class AwsCall:
    """One AWS SDK call as a scenario states it: service, operation (boto3's method
    name, e.g. ``get_object``), parameters, and the client's ``Config``."""

    service: str
    operation: str | None = None
    params: str = "{}"  # JSON (hashable: resolutions are cached per call)
    region: str | None = None
    addressing_style: str | None = None  # s3: auto | virtual | path
    use_dualstack_endpoint: bool | None = None
    use_fips_endpoint: bool | None = None
    proxies: tuple[tuple[str, str], ...] | None = None  # Config(proxies=...)
    endpoint_url: str | None = None  # boto3.client(endpoint_url=...)

    def kwargs(self) -> dict[str, Any]:
        return dict(json.loads(self.params))

    @classmethod
    def of(cls, service: str, operation: str | None = None,
           params: dict[str, Any] | None = None, **config: Any) -> AwsCall:
        proxies = config.pop("proxies", None)
        return cls(service, operation, json.dumps(params or {}, sort_keys=True),
                   proxies=None if proxies is None else tuple(sorted(proxies.items())),
                   **config)


@dataclass(frozen=True)
class Resolved:
    """botocore's endpoint decision for a call."""

    endpoint_url: str  # client.meta.endpoint_url: the proxy decision's input
    request_url: str | None  # the operation's URL (None: no operation given)
    source: EndpointSource
    variable: str | None = None  # the AWS_ENDPOINT_URL* variable used, as spelled
    error: str | None = None  # botocore refused the configuration (its message)
    flags: tuple[str, ...] = field(default_factory=tuple)  # dualstack, fips, path-style

    @property
    def endpoint_host(self) -> str:
        return (urlsplit(self.endpoint_url).hostname or "").lower()

    @property
    def request_host(self) -> str:
        return (urlsplit(self.request_url or self.endpoint_url).hostname or "").lower()


class _Stop(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


@lru_cache(maxsize=256)
def _session_for(env_items: tuple[tuple[str, str], ...]) -> Any:
    """One session per set of variables (creating one is most of a resolution's cost)."""
    return _session(dict(env_items))


def _session(env: dict[str, str]) -> Any:
    """A botocore session whose config chains read ``env``, not ``os.environ``."""
    import botocore.session
    from botocore import configprovider as cp

    class EnvSession(botocore.session.Session):
        def _register_config_store(self) -> None:
            chain = cp.ConfigChainFactory(session=self, environ=env)
            mapping = cp._create_config_chain_mapping(chain,
                                                      cp.BOTOCORE_DEFAUT_SESSION_VARIABLES)
            for name, variables in (("s3", cp.DEFAULT_S3_CONFIG_VARS),
                                    ("proxies_config", cp.DEFAULT_PROXIES_CONFIG_VARS)):
                mapping[name] = cp.SectionConfigProvider(
                    name, self, cp._create_config_chain_mapping(chain, variables))
            self._components.register_component("config_store",
                                                cp.ConfigValueStore(mapping=mapping))

        def _register_data_loader(self) -> None:
            self._components.register_component("data_loader", _loader())

        def _add_configured_endpoint_provider(self, client_name: str,
                                              config_store: Any) -> None:
            config_store.set_config_provider(
                logical_name="endpoint_url",
                provider=cp.ConfiguredEndpointProvider(
                    full_config=self.full_config, scoped_config=self.get_scoped_config(),
                    client_name=client_name, environ=env))

    s = EnvSession()
    s.set_config_variable("config_file", "/dev/null")
    s.set_config_variable("credentials_file", "/dev/null")
    return s


@lru_cache(maxsize=1)
def _loader() -> Any:
    """One data loader for every session: service models are read once."""
    from botocore.loaders import create_loader

    return create_loader()


def _variable(env: dict[str, str], service_id: str) -> str | None:
    """The AWS_ENDPOINT_URL* variable botocore took the endpoint from, as spelled
    (the same precedence as ``ConfiguredEndpointProvider``)."""
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    name = "AWS_ENDPOINT_URL_" + service_id.replace(" ", "_").upper()
    for var in (name, "AWS_ENDPOINT_URL"):
        if env.get(var):
            return var
    return None


def _region(call: AwsCall, env: dict[str, str], default: str | None) -> str:
    return call.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or \
        default or "us-east-1"


def resolve(call: AwsCall, env: dict[str, str], region: str | None = None) -> Resolved:
    """botocore's endpoint for ``call`` with the variables ``env`` (cached)."""
    key = tuple(sorted((k, v) for k, v in env.items() if k.startswith("AWS_")))
    return _resolve(call, key, _region(call, env, region))


@lru_cache(maxsize=4096)
def _resolve(call: AwsCall, env_items: tuple[tuple[str, str], ...], region: str) -> Resolved:
    env = dict(env_items)
    try:
        client, endpoint = _client(call, env, region)
    except Exception as exc:  # noqa: BLE001 - botocore refusing a configuration is a fact
        return Resolved("", None, EndpointSource.DEFAULT, error=f"{type(exc).__name__}: {exc}")
    request_url = _request_url(client, call) if call.operation else None
    variable = None if call.endpoint_url else _variable(env, client.meta.service_model
                                                        .service_id)
    host = (urlsplit(endpoint).hostname or "").lower()
    if call.endpoint_url:
        source = EndpointSource.CLIENT_ARGUMENT
    elif variable == "AWS_ENDPOINT_URL_S3":
        source = EndpointSource.AWS_ENDPOINT_URL_S3
    elif variable == "AWS_ENDPOINT_URL":
        source = EndpointSource.AWS_ENDPOINT_URL
    elif variable:
        source = EndpointSource.SERVICE_VARIABLE
    elif region in host.split("."):
        source = EndpointSource.DEFAULT
    else:
        source = _global_kind(call, env, region, host)
    flags = []
    if ".dualstack." in host or host.endswith(".api.aws"):
        flags.append("dualstack")
    if "-fips." in host or ".fips." in host or host.startswith("fips."):
        flags.append("fips")
    req_host = (urlsplit(request_url or endpoint).hostname or "").lower()
    if call.service == "s3" and request_url and req_host == host and call.kwargs().get(
            "Bucket"):
        flags.append("path-style")
    return Resolved(endpoint, request_url, source, variable, flags=tuple(flags))


def _global_kind(call: AwsCall, env: dict[str, str], region: str, host: str) -> EndpointSource:
    """A host without the region: a legacy global endpoint when botocore's regional
    switch for the service would move it, else the service's one global endpoint."""
    for var in ("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT", "AWS_STS_REGIONAL_ENDPOINTS"):
        switched = {**env, var: "regional"}
        try:
            _, other = _client(AwsCall(call.service, region=call.region,
                                       use_dualstack_endpoint=call.use_dualstack_endpoint,
                                       use_fips_endpoint=call.use_fips_endpoint),
                               switched, region)
        except Exception:  # noqa: BLE001, S112 - no regional alternative
            continue
        if (urlsplit(other).hostname or "").lower() != host:
            return EndpointSource.LEGACY_GLOBAL
    return EndpointSource.GLOBAL


def _client(call: AwsCall, env: dict[str, str], region: str) -> tuple[Any, str]:
    from botocore.config import Config

    cfg: dict[str, Any] = {"retries": {"total_max_attempts": 1}}
    if call.addressing_style:
        cfg["s3"] = {"addressing_style": call.addressing_style}
    if call.use_dualstack_endpoint is not None:
        cfg["use_dualstack_endpoint"] = call.use_dualstack_endpoint
    if call.use_fips_endpoint is not None:
        cfg["use_fips_endpoint"] = call.use_fips_endpoint
    if call.proxies is not None:
        cfg["proxies"] = dict(call.proxies)
    with _LOCK:  # botocore sessions are not thread-safe while clients are created
        session = _session_for(tuple(sorted(env.items())))
        client = session.create_client(call.service, region_name=region,
                                             endpoint_url=call.endpoint_url,
                                             config=Config(**cfg), **_CREDS)
    return client, client.meta.endpoint_url


def _request_url(client: Any, call: AwsCall) -> str | None:
    def stop(request: Any, **_: Any) -> None:
        raise _Stop(request.url)

    client.meta.events.register("before-send", stop)
    try:
        getattr(client, call.operation)(**call.kwargs())
    except _Stop as s:
        return s.url
    except Exception:  # noqa: BLE001 - bad parameters: the endpoint alone is known
        return None
    return None
