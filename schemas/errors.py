"""The small, named hierarchy of errors sco-etl raises.

Every message says what happened and what the user can do about it.
"""


class ScoEtlError(Exception):
    """Base class of every error sco-etl raises on purpose."""


class SourceError(ScoEtlError):
    """A source (CBR, a news feed) could not give us a usable document."""

    def __init__(self, message: str, *, url: str | None = None, cause: str | None = None):
        super().__init__(message)
        self.url = url
        """The URL that failed, when one request is to blame."""
        self.cause = cause
        """Why, in a few words: `DNS lookup failed`, `connection refused`, `HTTP 500`..."""


class TransientSourceError(SourceError):
    """A failure that may pass: timeout, connection error, 5xx, 429. Retried with backoff."""

    def __init__(self, message: str, *, url: str | None = None, cause: str | None = None,
                 retry_after: float | None = None, final: bool = False):
        super().__init__(message, url=url, cause=cause)
        self.retry_after = retry_after
        """Seconds the server asked us to wait (429/503 Retry-After), if it said."""
        self.final = final
        """Not worth retrying within this run (the server asked for too long a wait)."""


class SourceFormatError(SourceError):
    """A 200 response that is not the document we asked for. Never retried, never stored."""


class SourceRejectedError(SourceError):
    """The source refused the request for good (4xx other than 429, redirect loop, too large)."""


class ValidationFailure(ScoEtlError):
    """So many records failed their schema that the source itself must be broken."""


class WarehouseError(ScoEtlError):
    """The warehouse could not be read or written."""


class WarehouseBusyError(WarehouseError):
    """Another writer holds the warehouse lock for longer than we were willing to wait."""


class ReadOnlyQueryError(WarehouseError):
    """A query tried to change the warehouse through the read-only query surface."""


class ConfigError(ScoEtlError):
    """A configuration value (environment, option, parameter) is not valid."""


class InputError(ConfigError):
    """A value given on the command line is not valid: refused before anything starts."""


class NoWarehouseError(WarehouseError):
    """There is no warehouse where the settings point: a reader creates none."""


class StaleDataError(ScoEtlError):
    """Stored data is older than the publication calendar or a source's cadence allows."""


class NoDataError(ScoEtlError):
    """The warehouse holds nothing for what was asked: load it first."""
