"""S3's XML answers: errors as S3 words them (clients parse the code), and plain results."""

from __future__ import annotations

from xml.sax.saxutils import escape

from aiohttp import web

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_PROLOGUE = '<?xml version="1.0" encoding="UTF-8"?>'


class S3Error(Exception):
    """A request answered with S3's error ``code`` and HTTP ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def xml(body: str, status: int = 200) -> web.Response:
    # application/xml, as S3 answers: clients parse it into error codes (text/xml they do not).
    return web.Response(status=status, text=_PROLOGUE + body, content_type="application/xml")


def error(status: int, code: str, message: str) -> web.Response:
    return xml(f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>", status)


def no_such_key() -> web.Response:
    return error(404, "NoSuchKey", "The specified key does not exist.")


def no_such_bucket() -> web.Response:
    return error(404, "NoSuchBucket", "The specified bucket does not exist.")


def precondition_failed() -> web.Response:
    return error(412, "PreconditionFailed", "At least one of the pre-conditions did not hold")
