"""gunicorn's settings for the web (read from the working directory: the image's CMD and the
benchmarks start gunicorn there; the command line gives the bind address and worker count).

The application is loaded once, in the master, and the workers are forked from it, so the
pages of the code, Django's and every view's, are one copy shared by all the workers rather
than one per worker (issue 22). Measured with 3 sync workers on PostgreSQL after item page,
dashboard and API requests: the tree's PSS 249 -> 177 MB (its actual memory); the sum of RSS,
which counts each shared page once per process, rises 311 -> 354 MB since the master now holds
the application too.
"""

import gc

preload_app = True

_forked_before = False


def pre_fork(server, worker) -> None:
    """Before the first worker is forked: every view imported (Django otherwise imports the
    URLconf on each worker's first request), no database connection left to be shared by the
    children, and what the master allocated moved out of the collector's sight (gc.freeze):
    a collection in a worker would otherwise write to every object's header, copying the pages
    the fork shares."""
    global _forked_before
    if _forked_before:
        return
    _forked_before = True
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view)
    connections.close_all()
    gc.collect()
    gc.freeze()
