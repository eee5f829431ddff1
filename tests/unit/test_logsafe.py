import logging

from faceprint.logsafe import SafeFormatter, escape


def test_escape_keeps_printable_text_and_escapes_the_rest() -> None:
    assert escape("José 李") == "José 李"
    assert escape('a\nINFO: "DELETE /x" 200') == 'a\\x0aINFO: "DELETE /x" 200'
    assert escape("\u202e\x00\u2028") == "\\u202e\\x00\\u2028"


def test_formatter_escapes_the_message_but_not_tracebacks() -> None:
    f = SafeFormatter("%(levelname)s %(message)s")
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "enrolled %s", ("eve\nINFO forged",), None)
    assert f.format(rec) == "INFO enrolled eve\\x0aINFO forged"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    out = f.format(rec)
    assert out.startswith("ERROR failed\nTraceback") and out.count("\n") >= 3
