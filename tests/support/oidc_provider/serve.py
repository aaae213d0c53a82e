"""`python -m tests.support.oidc_provider.serve <port>`: migrate the provider's own SQLite
database, register evalapp as a client (from OIDC_TEST_* variables) and serve until stopped."""

import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the standard library's name
        pass


def main(port: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.oidc_provider.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    Application.objects.create(
        name="evalapp",
        client_id=os.environ["OIDC_TEST_CLIENT_ID"],
        client_secret=os.environ["OIDC_TEST_CLIENT_SECRET"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=os.environ["OIDC_TEST_REDIRECT_URIS"],
        post_logout_redirect_uris=os.environ["OIDC_TEST_POST_LOGOUT_URIS"],
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    server = make_server(
        "127.0.0.1",
        port,
        get_wsgi_application(),
        server_class=ThreadingServer,
        handler_class=QuietHandler,
    )
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
