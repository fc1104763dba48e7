"""A user's own function (not the probe): it calls AWS services and third-party URLs.

Used by the ``pitfalls`` catalogue (``code:``). Plain boto3 and urllib, as a user
writes them, nothing of proxylab: which of its requests cross the proxy is for the
lab's evidence to show. The event says which calls to make (default: all):
``secretsmanager`` (GetSecretValue of ``SECRET_ID``), ``dynamodb`` (GetItem in
``TABLE_NAME``), ``sts`` (GetCallerIdentity), ``web`` (``WEB_URL``) and every
variable ending in ``_URL`` that the scenario sets (``PAYMENT_URL``, a webhook...).
"""

import json
import os
import urllib.request

import boto3
from botocore.config import Config

CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1})
OWN_URLS = ("WEB_URL", "API_GATEWAY_URL")


def _call(fn):
    try:
        return {"ok": True, "value": fn()}
    except Exception as exc:  # noqa: BLE001 - the outcome is the answer
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status


def handler(event, context):
    calls = event.get("calls") or ["secretsmanager", "dynamodb", "sts", "web", "urls"]
    out = {}
    if "secretsmanager" in calls:
        sm = boto3.client("secretsmanager", config=CONFIG)
        out["secretsmanager"] = _call(lambda: json.loads(
            sm.get_secret_value(SecretId=os.environ.get("SECRET_ID", "proxylab/demo"))
            ["SecretString"]) and "read")
    if "dynamodb" in calls:
        ddb = boto3.client("dynamodb", config=CONFIG)
        out["dynamodb"] = _call(lambda: ddb.get_item(
            TableName=os.environ.get("TABLE_NAME", "proxylab-demo-table"),
            Key={"id": {"S": "111"}})["Item"]["name"]["S"])
    if "sts" in calls:
        sts = boto3.client("sts", config=CONFIG)
        out["sts"] = _call(lambda: sts.get_caller_identity()["Account"])
    if "web" in calls and os.environ.get("WEB_URL"):
        out["web"] = _call(lambda: _get(os.environ["WEB_URL"]))
    if "urls" in calls:
        for key in sorted(os.environ):
            if key.endswith("_URL") and key not in OWN_URLS and key != "AWS_ENDPOINT_URL" \
                    and not key.startswith("AWS_"):
                out[key] = _call(lambda k=key: _get(os.environ[k]))
    print(json.dumps({"calls": out}))
    return out
