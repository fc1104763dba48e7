"""The one compiled part: the audit's native-logformat reader (lib/proxylab/audit/_scan.c).

Everything else is declared in pyproject.toml. ``optional=True``: without a C compiler
the package still installs and ``proxylab audit`` uses its polars reader (``--engine
polars``), saying so when ``--engine c`` is asked for.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "proxylab.audit._scan", ["lib/proxylab/audit/_scan.c"],
    extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    optional=True,
)])
