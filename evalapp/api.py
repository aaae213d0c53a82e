"""What every part of the REST API shares: token authentication (throttled, expiring),
pagination, and CSV for the long-format exports."""

import ipaddress
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed, ParseError, Throttled
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer

from annotation import responses
from annotation.core import importing, rubric, tables


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or behind NUM_PROXIES reverse proxies the address the
    outermost of them saw, counted from the right of X-Forwarded-For (the left is whatever the
    client chose to send). Used by django-axes and the failed-token throttle alike."""
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not settings.NUM_PROXIES or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    candidate = hops[-min(settings.NUM_PROXIES, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a proxy that forwards garbage: count the proxy, not nobody
        return remote


def _failure_keys(address: str) -> tuple[str, str]:
    return f"api-token-failures:{address}", f"api-token-failures-since:{address}"


def _refuse_if_guessing(address: str) -> None:
    count_key, since_key = _failure_keys(address)
    if cache.get(count_key, 0) < settings.API_TOKEN_FAILURE_LIMIT:
        return
    window = settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    since = cache.get(since_key, time.time())
    raise Throttled(
        wait=max(1, since + window - time.time()),
        detail="Too many calls with a wrong API token from this address.",
    )


def _count_failure(address: str) -> None:
    count_key, since_key = _failure_keys(address)
    window = settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    cache.add(since_key, time.time(), window)
    if cache.add(count_key, 1, window):
        return
    try:
        cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.add(count_key, 1, window)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token, also as `Authorization: Bearer <token>` (what generated clients send),
    refused once older than API_TOKEN_MAX_AGE_DAYS (0: never), and answered with 429 for an
    address that sent API_TOKEN_FAILURE_LIMIT wrong tokens within the window, whatever it
    sends next, so that tokens cannot be guessed. Counts live in the cache every web process
    shares (Redis in production)."""

    keywords = (b"token", b"bearer")

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in self.keywords:
            return None
        address = client_address(request)
        _refuse_if_guessing(address)
        try:
            if len(auth) != 2:
                raise AuthenticationFailed("Send the header as `Token <key>` or `Bearer <key>`.")
            try:
                key = auth[1].decode()
            except UnicodeError:
                raise AuthenticationFailed("Invalid token.") from None
            return self.authenticate_credentials(key)
        except AuthenticationFailed:
            _count_failure(address)
            raise

    def authenticate_credentials(self, key: str) -> tuple[object, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token=token):
            raise AuthenticationFailed(
                "This token has expired: create a new one on your API token page."
            )
        return user, token


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    """The token in the schema as HTTP bearer: what client generators send by default. (Here,
    beside the class, so that it is registered before any schema is made.)"""

    target_class = ExpiringTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer <key>` (or `Token <key>`).",
        }


def token_expired(*, token: Token) -> bool:
    max_age = settings.API_TOKEN_MAX_AGE_DAYS
    return bool(max_age) and token.created < timezone.now() - timedelta(days=max_age)


class Pagination(PageNumberPagination):
    """`?page=N`, 100 rows a page by default, `?page_size=` up to 1,000."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class StrictJSONParser(JSONParser):
    """JSON bodies, refused with 400 when nested too deep to read or holding a NUL character
    (which PostgreSQL cannot store), instead of failing with a server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("The JSON is nested too deeply.") from None
        # Bounded before anything recursive reads it (the NUL check below, the serializers):
        # a body just inside the parser's own limit would fail there instead.
        if importing.nesting_depth(data) > importing.MAX_JSON_DEPTH:
            raise ParseError(
                f"The JSON is nested more than {importing.MAX_JSON_DEPTH} levels deep."
            )
        if rubric.contains_nul(data):
            raise ParseError("A NUL character is not allowed.")
        return data


class CSVRenderer(BaseRenderer):
    """Chosen by `?format=csv` or `Accept: text/csv`. A view that offers it streams its rows
    itself (`csv_stream`); what reaches this renderer is an error body, kept readable."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> str:
        detail = data.get("detail", data) if isinstance(data, dict) else data
        return tables.to_csv([{"detail": str(detail)}], ["detail"])


def wants_csv(request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    return getattr(renderer, "format", "") == "csv"


def csv_stream(
    rows: Iterable[dict], columns: Sequence[str], filename: str
) -> StreamingHttpResponse:
    return responses.csv_response(rows=rows, columns=columns, filename=filename)
