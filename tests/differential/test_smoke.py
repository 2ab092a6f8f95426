"""A first differential check: the basics match redis-server byte for byte."""


def test_get_set_and_errors(diff):
    diff.run("SET", "k", "v")
    diff.run("GET", "k")
    diff.run("GET", "missing")
    diff.run("GET")
    diff.run("NOSUCHCOMMAND", "a", "b")
    diff.run("INCR", "k")
    diff.run("MSET", "a", "1", "b", "2", "c", "3")
    diff.run("MGET", "a", "b", "nope", "c")
    diff.run("DEL", "a", "b", "nope")
    diff.run("EXISTS", "a", "c", "k")
