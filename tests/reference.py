"""What a test does when the reference redis-server is missing.

On a developer's machine a missing reference is a skip.  Under CI (the ``CI``
environment variable set, as every CI service sets it) it is a failure: a
silent skip there would drop the differential tests, the project's judge of
Redis compatibility, while the run still shows green.
"""

from __future__ import annotations

import os
import shutil

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_reference(reason: str):
    """Skip the test, or fail it under CI; never returns."""
    if under_ci():
        pytest.fail("%s (CI is set: the reference server must be installed)" % reason,
                    pytrace=False)
    pytest.skip(reason)


def reference_binary(name: str = "redis-server") -> str:
    """The path of a reference binary (redis-server, redis-benchmark)."""
    path = shutil.which(name)
    if path is None:
        missing_reference("no %s binary" % name)
    return path
