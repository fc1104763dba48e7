"""A user's handler that raises: what Lambda reports for an unhandled exception.

Used by the ``ex-handler-raises`` example scenario (examples.yaml, ``code:``). It
prints first, so the capture shows the function ran before it failed.
"""


def handler(event, context):
    print(f"about to fail on purpose (request {getattr(context, 'aws_request_id', '?')})")
    raise RuntimeError("this handler always raises (proxylab example scenario)")
