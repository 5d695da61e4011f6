"""Desktop entries: the Exec quoting and string escaping of the specification."""

from sosqueue.desktop_entry import exec_argument, exec_value


def test_exec_argument_quotes_only_when_needed():
    """Plain arguments stay bare; reserved characters get double quotes with spec escapes."""
    assert exec_argument("/usr/bin/agent") == "/usr/bin/agent"
    assert exec_argument("a b") == '"a b"'
    assert exec_argument('say "$x" `y` \\z') == '"say \\"\\$x\\" \\`y\\` \\\\z"'
    assert exec_argument("") == '""'
    assert exec_argument("100%") == "100%%"


def test_exec_value_escapes_backslashes_again_as_a_string_value():
    """The string escape comes on top of the quoting: one backslash in a path becomes four."""
    assert exec_value(["/a\\b"]) == '"/a\\\\\\\\b"'
