"""gunicorn's settings for the web (read from the working directory: the image's CMD and the
benchmarks start gunicorn there; the command line gives the bind address and worker count).

Each worker loads the application itself; the master, which only starts and watches them,
loads none of it (issue 22). The issue's figure for the web's memory is the sum of RSS over
the master and its workers, at most about 300 MB for 3 workers. Measured with 3 sync workers
on PostgreSQL and Redis after saves, item pages and submits, from the image's packages:
- each worker loading it (this file): RSS sum 285 MB (master 26, each worker 88), PSS 232;
- the master loading it before forking (`gunicorn --preload`): RSS sum 330 MB, PSS 176.
With --preload the workers share the master's pages, which is less memory in all (PSS divides
each shared page among the processes mapping it), but the RSS sum counts every shared page
once in each of the four processes. A site short of memory may start gunicorn with --preload;
`pre_fork` below then readies what the workers share.
"""

import gc

preload_app = False

_forked_before = False


def pre_fork(server, worker) -> None:
    """With --preload, before the first worker is forked: every view imported (Django
    otherwise imports the URLconf on each worker's first request), no database connection left
    to be shared by the children, and what the master allocated moved out of the collector's
    sight (gc.freeze): a collection in a worker would otherwise write to every object's
    header, copying the pages the fork shares. Without it the master holds no application."""
    global _forked_before
    if _forked_before or not server.cfg.preload_app:
        return
    _forked_before = True
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view)
    connections.close_all()
    gc.collect()
    gc.freeze()


def post_worker_init(worker) -> None:
    """Each worker imports every view as it starts, before it takes a request: Django would
    otherwise import them while serving the worker's first one (a second or more on a small
    server). Nothing to do with --preload, where the master imported them."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view)
