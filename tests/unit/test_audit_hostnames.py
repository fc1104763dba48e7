"""Hostname classification from botocore's endpoint data: every flavour, several regions,
the China and GovCloud partitions, and non-AWS look-alikes."""

from __future__ import annotations

import pytest

from proxylab.awsdata.hostnames import (
    AWS_OTHER,
    EXECUTE_API,
    GLOBAL,
    LAMBDA_URL,
    NON_AWS,
    REGIONAL,
    S3_BUCKET,
    VPCE,
    classify,
    endpoint_url_env,
    split_hostport,
)

# host, service, region, partition, flavour, fips, dualstack
CASES = [
    ("s3.ap-northeast-1.amazonaws.com", "s3", "ap-northeast-1", "aws", REGIONAL, False, False),
    ("sqs.eu-west-1.amazonaws.com", "sqs", "eu-west-1", "aws", REGIONAL, False, False),
    ("monitoring.sa-east-1.amazonaws.com", "monitoring", "sa-east-1", "aws", REGIONAL, False,
     False),
    ("ec2.cn-north-1.amazonaws.com.cn", "ec2", "cn-north-1", "aws-cn", REGIONAL, False, False),
    ("dynamodb.cn-northwest-1.amazonaws.com.cn", "dynamodb", "cn-northwest-1", "aws-cn",
     REGIONAL, False, False),
    ("dynamodb.us-gov-west-1.amazonaws.com", "dynamodb", "us-gov-west-1", "aws-us-gov",
     REGIONAL, False, False),
    ("sts.us-gov-east-1.amazonaws.com", "sts", "us-gov-east-1", "aws-us-gov", REGIONAL, False,
     False),
    # global endpoints sign in their partition's home region
    ("iam.amazonaws.com", "iam", "us-east-1", "aws", GLOBAL, False, False),
    ("sts.amazonaws.com", "sts", "us-east-1", "aws", GLOBAL, False, False),
    ("s3.amazonaws.com", "s3", "us-east-1", "aws", GLOBAL, False, False),
    ("iam.us-gov.amazonaws.com", "iam", "us-gov-west-1", "aws-us-gov", GLOBAL, False, False),
    # FIPS and dual-stack variants
    ("kms-fips.us-east-1.amazonaws.com", "kms", "us-east-1", "aws", REGIONAL, True, False),
    ("s3-fips.us-gov-west-1.amazonaws.com", "s3", "us-gov-west-1", "aws-us-gov", REGIONAL, True,
     False),
    ("dynamodb-fips.us-gov-west-1.amazonaws.com", "dynamodb", "us-gov-west-1", "aws-us-gov",
     REGIONAL, True, False),
    ("sqs.us-west-2.api.aws", "sqs", "us-west-2", "aws", REGIONAL, False, True),
    ("s3.dualstack.eu-central-1.amazonaws.com", "s3", "eu-central-1", "aws", REGIONAL, False,
     True),
    ("s3-fips.dualstack.us-east-2.amazonaws.com", "s3", "us-east-2", "aws", REGIONAL, True,
     True),
    # virtual-hosted S3 buckets
    ("proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com", "s3", "ap-northeast-1", "aws",
     S3_BUCKET, False, False),
    ("my.dotted.bucket.s3.eu-west-1.amazonaws.com", "s3", "eu-west-1", "aws", S3_BUCKET, False,
     False),
    ("logs-archive.s3.amazonaws.com", "s3", "us-east-1", "aws", S3_BUCKET, False, False),
    ("old.s3-us-west-2.amazonaws.com", "s3", "us-west-2", "aws", S3_BUCKET, False, False),
    ("reports.s3.dualstack.eu-west-1.amazonaws.com", "s3", "eu-west-1", "aws", S3_BUCKET, False,
     True),
    ("cn-bucket.s3.cn-north-1.amazonaws.com.cn", "s3", "cn-north-1", "aws-cn", S3_BUCKET, False,
     False),
    ("gov-bucket.s3-fips.us-gov-west-1.amazonaws.com", "s3", "us-gov-west-1", "aws-us-gov",
     S3_BUCKET, True, False),
    # API Gateway invoke URLs, Lambda function URLs, VPC endpoint names
    ("q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com", "execute-api", "ap-northeast-1",
     "aws", EXECUTE_API, False, False),
    ("a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn", "execute-api", "cn-north-1", "aws-cn",
     EXECUTE_API, False, False),
    ("z9y8x7w6v5.execute-api.us-gov-west-1.amazonaws.com", "execute-api", "us-gov-west-1",
     "aws-us-gov", EXECUTE_API, False, False),
    ("abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws", "lambda", "eu-west-1", "aws",
     LAMBDA_URL, False, False),
    ("vpce-0a1b2c3d4e5f67890-abcdefgh.execute-api.ap-northeast-1.vpce.amazonaws.com",
     "execute-api", "ap-northeast-1", "aws", VPCE, False, False),
    ("bucket.vpce-0f9e8d7c6b5a43210-12345678.s3.ap-northeast-1.vpce.amazonaws.com", "s3",
     "ap-northeast-1", "aws", VPCE, False, False),
    ("vpce-0123-abcd.sqs.cn-north-1.vpce.amazonaws.com.cn", "sqs", "cn-north-1", "aws-cn", VPCE,
     False, False),
]


@pytest.mark.parametrize(("host", "service", "region", "partition", "flavour", "fips", "ds"),
                         CASES, ids=[c[0] for c in CASES])
def test_aws_flavours(host, service, region, partition, flavour, fips, ds):
    info = classify(host)
    assert info.is_aws
    assert (info.service, info.region, info.partition, info.flavour, info.fips, info.dualstack) \
        == (service, region, partition, flavour, fips, ds)


def test_identifiers_are_extracted():
    assert classify("proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com").bucket == \
        "proxylab-demo-bucket"
    assert classify("q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com").api_id == "q8rw2x7k1m"
    assert classify("abc123.lambda-url.us-east-1.on.aws").url_id == "abc123"
    v = classify("bucket.vpce-0f9e8d7c6b5a43210-12345678.s3.ap-northeast-1.vpce.amazonaws.com")
    assert (v.vpce_id, v.bucket) == ("vpce-0f9e8d7c6b5a43210-12345678", "bucket")


@pytest.mark.parametrize("host", [
    "www.google.com", "example.com", "amazonaws.com.evil.example", "s3.amazonaws.com.attacker.io",
    "10.2.3.4", "::1", "[2001:db8::1]", "notamazonaws.com", "pypi.org",
])
def test_non_aws_hosts_stay_non_aws(host):
    info = classify(host)
    assert not info.is_aws and info.flavour == NON_AWS and info.service is None


def test_unknown_aws_shape_is_aws_other():
    info = classify("something.weird.amazonaws.com")
    assert info.is_aws and info.flavour == AWS_OTHER


def test_case_and_trailing_dot_are_normalised():
    assert classify("S3.AP-NORTHEAST-1.AMAZONAWS.COM.").service == "s3"


def test_endpoint_url_env_names_follow_botocore_service_ids():
    assert endpoint_url_env("s3") == "AWS_ENDPOINT_URL_S3"
    assert endpoint_url_env("apigateway") == "AWS_ENDPOINT_URL_API_GATEWAY"
    assert endpoint_url_env("monitoring") == "AWS_ENDPOINT_URL_CLOUDWATCH"
    assert endpoint_url_env("logs") == "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"
    assert endpoint_url_env("secretsmanager") == "AWS_ENDPOINT_URL_SECRETS_MANAGER"
    assert endpoint_url_env("no-such-prefix") is None


@pytest.mark.parametrize(("hp", "expected"), [
    ("www.google.com:443", ("www.google.com", 443)),
    ("Bucket.S3.amazonaws.com", ("bucket.s3.amazonaws.com", None)),
    ("[2001:db8::1]:8443", ("2001:db8::1", 8443)),
    ("user:pw@host.example:80", ("host.example", 80)),
    ("host.example?x=1", ("host.example", None)),
])
def test_split_hostport(hp, expected):
    assert split_hostport(hp) == expected


def test_cached_tables_equal_freshly_derived_ones(tmp_path, monkeypatch):
    """The on-disk cache of botocore-derived tables holds exactly what deriving gives,
    and a corrupt cache file is rebuilt rather than trusted."""
    from proxylab.awsdata import hostnames

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    hostnames._tables.cache_clear()
    try:
        derived = hostnames._tables()
        (cache,) = (tmp_path / "proxylab").glob("botocore-tables-*.marshal")
        hostnames._tables.cache_clear()
        loaded = hostnames._tables()
        assert loaded == derived == hostnames.build_tables()
        assert len(loaded["known"]) > 10000 and "s3" in loaded["services"]
        cache.write_bytes(b"\x00garbage")
        hostnames._tables.cache_clear()
        assert hostnames._tables() == derived
    finally:
        hostnames._tables.cache_clear()
