"""SHUTDOWN's checks without processes: which requests may stop the server."""

from __future__ import annotations

import logging

import pytest

from cluster import errors
from cluster.config import Config
from cluster.errors import CommandError
from cluster.shutdown import check_shutdown

log = logging.getLogger("test.shutdown")


def _outcome(*modifiers, config=None):
    try:
        save, force = check_shutdown([b"SHUTDOWN", *modifiers], config or Config(), log)
    except CommandError as exc:
        return exc.text
    return "save first" + (" (forced)" if force else "") if save else "stop"


@pytest.mark.parametrize("modifiers", [(), (b"NOSAVE",), (b"nosave", b"now", b"force"),
                                       (b"now", b"now")])
def test_these_stop_the_server(modifiers):
    assert _outcome(*modifiers) == "stop"


def test_a_save_comes_first_when_asked_or_scheduled():
    assert _outcome(b"SAVE") == "save first"
    assert _outcome(b"SAVE", b"FORCE") == "save first (forced)"
    assert _outcome(b"save", b"now") == "save first"
    assert _outcome(config=Config({"save": "3600 1"})) == "save first"
    assert _outcome(config=Config({"snapshot_cron": "0 * * * *"})) == "save first"
    assert _outcome(b"NOSAVE", config=Config({"save": "3600 1"})) == "stop"


def test_abort_and_bad_combinations():
    assert _outcome(b"ABORT") == errors.NO_SHUTDOWN_IN_PROGRESS
    assert _outcome(b"abort", b"ABORT") == errors.NO_SHUTDOWN_IN_PROGRESS
    for bad in ((b"ABORT", b"NOW"), (b"NOSAVE", b"SAVE"), (b"later",), (b"NOW", b"x")):
        assert _outcome(*bad) == errors.SYNTAX, bad
