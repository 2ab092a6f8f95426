"""A missing reference redis-server fails a CI run instead of skipping
the differential tests; elsewhere it is still a skip."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests import reference
from tests.helpers import ROOT


@pytest.mark.parametrize("value,ci", [
    ("true", True), ("1", True), ("yes", True), ("", False), ("false", False), ("0", False),
])
def test_under_ci(monkeypatch, value, ci):
    monkeypatch.setenv("CI", value)
    assert reference.under_ci() is ci


def test_missing_binary_fails_under_ci(monkeypatch):
    monkeypatch.setattr(reference.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no redis-server binary"):
        reference.reference_binary()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no redis-benchmark binary"):
        reference.reference_binary("redis-benchmark")


def _run_with_redis_ref(tmp_path, ci):
    """A pytest run of one test that takes the session's redis_ref fixture,
    with the reference server made unavailable."""
    test = tmp_path / "test_needs_reference.py"
    test.write_text(textwrap.dedent("""
        from tests.helpers import RedisProcess

        RedisProcess.available = staticmethod(lambda: False)

        def test_compare(redis_ref):
            pass
    """))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(test)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_redis_ref_fixture_fails_under_ci(tmp_path):
    run = _run_with_redis_ref(tmp_path, ci=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout and "CI is set" in run.stdout


def test_redis_ref_fixture_skips_elsewhere(tmp_path):
    run = _run_with_redis_ref(tmp_path, ci=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout
