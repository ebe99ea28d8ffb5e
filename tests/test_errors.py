"""One error formatter for people: a node's failure, the CLI and the editor say it the same way."""
from __future__ import annotations

import errno
import os

from nodegraph.errors import GraphFileError, format_error


def test_errors_raised_on_purpose_keep_their_message():
    assert format_error(ValueError("width 0 is below the minimum 1")) == "width 0 is below the minimum 1"
    assert format_error(GraphFileError("g.json", "bad JSON", "line 3")) == "g.json at line 3: bad JSON"


def test_a_file_error_names_the_file_not_an_errno():
    e = OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), "out/" + "x" * 300)
    text = format_error(e)
    assert text.startswith("out/xxx") and "File name too long" in text and "Errno" not in text
    assert format_error(FileNotFoundError(errno.ENOENT, "No such file or directory", "a.png")) == \
        "a.png: No such file or directory"


def test_other_exceptions_say_their_kind_on_one_line():
    assert format_error(KeyError("save")) == "KeyError: 'save'"
    assert format_error(RuntimeError("two\n  lines")) == "RuntimeError: two\n  lines"
    assert format_error(RuntimeError("  spaced   out  ")) == "RuntimeError: spaced out"
    assert format_error(RuntimeError()) == "RuntimeError"
