"""gunicorn's settings for the web (read from the working directory: the image's CMD and the
benchmarks start gunicorn there; the command line gives the bind address and worker count).

Each worker loads the application itself; the master holds only gunicorn (issue 22). Measured
on 2026-12-06 with `make bench-peer BENCH_ARGS="--rounds 1 --items 2000"` (3 sync workers, on
PostgreSQL, after the benchmark's requests), the web tree's sum of RSS and its PSS:
- loaded by each worker (this): 317 MB RSS (master 27, workers 99 each), PSS 253 MB;
- loaded once in the master and forked (`preload_app = True`, with the URLconf imported and
  `gc.freeze()` before the first fork): 363 MB RSS, PSS 187 MB.
Preloading shares the application's pages, so the tree takes less memory (PSS), but the sum of
RSS, which counts a shared page once in every process and is the figure issue 22 sets at about
300 MB, rises by the master's copy. Neither meets that figure; this one is the closer.
"""

preload_app = False
