"""A first differential check: the basics match redis-server byte for byte.

``diff.run`` asserts that both servers gave the same reply; the explicit
asserts pin the values that reply must have.
"""


def test_get_set_and_errors(diff):
    assert diff.run("SET", "k", "v") == b"OK"
    assert diff.run("GET", "k") == b"v"
    assert diff.run("GET", "missing") is None
    assert diff.run("GET") == "ERR wrong number of arguments for 'get' command"
    diff.run("NOSUCHCOMMAND", "a", "b")
    assert diff.run("INCR", "k") == "ERR value is not an integer or out of range"
    diff.run("MSET", "a", "1", "b", "2", "c", "3")
    assert diff.run("MGET", "a", "b", "nope", "c") == [b"1", b"2", None, b"3"]
    assert diff.run("DEL", "a", "b", "nope") == 2
    assert diff.run("EXISTS", "a", "c", "k") == 2
