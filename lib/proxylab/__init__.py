"""proxylab: which of a Lambda function's requests cross the HTTP proxy, and which
go through VPC endpoints — answered from real runs on a lab."""

__version__ = "0.1.0"
