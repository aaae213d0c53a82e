"""The workload of issue 22's peer comparison, against evalapp as production runs it: gunicorn
(sync workers, 3 by default as the image runs) and a Celery worker (prefork, 2 processes) on
PostgreSQL with Redis as broker and cache, raters logged in over HTTP on loopback.

    make bench-peer                                     # 3 rounds of 10,000 items
    .venv/bin/python bench/peer_compare.py --rounds 1 --items 2000 --saves 200

The run drops and recreates its own database (--database, evalapp_bench_peer by default; only
a name starting so is accepted) and migrates it. Each round empties it, builds a fresh study of
--items items with one 5-point Likert question each, split among 10 raters, starts the servers
and measures:

  - save, 1 client: p50/p95 of one answer posted as the item page's htmx form does (question,
    answer, elapsed_ms, the CSRF token in field and header, HX-Request); a per-output question
    would add `about`, which a whole-item question's form has not. Each save answers an item
    of that rater not answered yet (a change of an earlier answer once none is left, with
    fewer items). Target p50 < 6 ms.
  - saves with 8 clients back to back: saves/s, p50, p95.
  - next item, 1 client: GET of the study's resume address, its redirect and the item page
    (between samples, untimed, the item is answered and submitted, so each is a new item).
  - server CPU per save, and per /healthz request as reference: utime + stime from
    /proc/PID/stat over the phase, summed over the gunicorn master and workers and over the
    PostgreSQL backends serving them (told apart by application_name, which the servers set
    through PGAPPNAME). Target <= 4.3 ms. PostgreSQL's own background processes (walwriter,
    checkpointer, background writer, autovacuum) and redis-server serve every database on the
    machine: their CPU over the phase is printed on its own line, not in the figure.
  - memory after the round's requests: the web tree (gunicorn master + workers) and the Celery
    worker (master + pool), as VmRSS sums and as PSS sums (/proc/PID/smaps_rollup, each
    shared page split among the processes mapping it). Targets: web <= 300 MB, worker < 500 MB.
    Beside the web's sum, the master's RSS and the largest worker's: what the master loads
    before forking counts once in each of them.
  - SQL statements per save: a save posted in this process through Django's test client,
    logged in as a rater, against the same database and settings, counted with
    CaptureQueriesContext: COMMIT counted, BEGIN not, as the issue counts them; a first answer
    on an item and a change of it. Target <= 6. Beside it, what PostgreSQL receives: BEGIN and
    Django's health check (CONN_HEALTH_CHECKS: a `SELECT 1` per request on a reused
    connection, which no Django query log shows) added. Where PostgreSQL runs
    pg_stat_statements (in shared_preload_libraries: a restart), also the statements the
    server received per 1-client save over HTTP, and per /healthz; n/a otherwise.

Every timing is printed beside /healthz measured in the same round by the same clients: one
`SELECT 1` through the same server, the floor any request pays. Rounds and their median are
printed; on a busy machine the reference moves with the figure. gunicorn's output goes to
var/bench-peer-servers.log.
"""

import argparse
import logging
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RATERS = 10  # 0-7 the 8 clients, 0 also the single client, 8 the SQL count, 9 the next item


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each on fresh data")
    parser.add_argument("--items", type=int, default=10_000, help="items in each round's study")
    parser.add_argument("--saves", type=int, default=400, help="1-client saves per round")
    parser.add_argument("--seconds", type=float, default=10.0, help="8-client save phase (s)")
    parser.add_argument("--next", type=int, default=100, help="next-item samples per round")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--database",
        default="postgres://postgres@127.0.0.1:5432/evalapp_bench_peer",
        help="dropped and recreated (DATABASE_URL is not read): named evalapp_bench_peer*",
    )
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/14", help="broker and cache (own db number)"
    )
    args = parser.parse_args()
    if args.items < RATERS * (args.next + 2):
        parser.error(f"--items: at least {RATERS * (args.next + 2)} for --next {args.next}")
    return args


ARGS = parse_args()
os.environ["DATABASE_URL"] = ARGS.database
os.environ["CELERY_BROKER_URL"] = ARGS.redis
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
# Each round flushes this run's own throwaway database, audit log included, which the log's
# trigger refuses otherwise (docs/audit.md; the flush needs a superuser, as the default URL is).
os.environ["AUDIT_LOG_FLUSHABLE"] = "1"

import django  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

WEB_APP, WORKER_APP = "bench-peer-web", "bench-peer-worker"
SERVER_LOG = ROOT / "var" / "bench-peer-servers.log"  # gunicorn's output


def database_recreate(url: str) -> None:
    """A new, empty database for this run, migrated by the code under test: one left by
    another checkout could hold tables and columns this code does not know. Only a database
    named evalapp_bench_peer* is accepted, since it is dropped."""
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("evalapp_bench_peer"):
        sys.exit(f"--database {name!r}: this benchmark drops it; name one evalapp_bench_peer*")
    admin = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


database_recreate(ARGS.database)
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from annotation.models import Assignment, Study  # noqa: E402
from bench import serving  # noqa: E402
from bench.serving import Rater, hammer, p, process_tree  # noqa: E402

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process so far (children it waited for are not included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def redis_pids() -> list[int]:
    """redis-server on this machine: with sessions or a cache in Redis, part of a save's cost,
    but shared with every other client of it."""
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "redis-server":
                found.append(int(comm.parent.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


class PhaseCpu:
    """CPU seconds by group over one phase: web (gunicorn tree), db (the backends serving the
    web), worker (Celery tree and its backends), shared (PostgreSQL's background processes and
    redis-server, which serve every database on the machine)."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.group: dict[int, str] = {}
        self.statements: float | None = None  # over the wire, where pg_stat_statements runs

    def seconds(self, group: str) -> float:
        return sum(self.last[pid] - self.first[pid] for pid, g in self.group.items() if g == group)

    def ms_per(self, count: int, *groups: str) -> float:
        return sum(self.seconds(g) for g in groups) * 1000 / count

    def statements_per(self, count: int) -> float | None:
        return None if self.statements is None else self.statements / count


class CpuMeter:
    """Samples every process serving the benchmark a few times a second during a phase, so a
    database connection closed and reopened mid-phase (CONN_MAX_AGE) is counted too."""

    INTERVAL = 0.2

    def __init__(self, running: serving.Servers, *, database: str, web: str, worker: str):
        self.running, self.database, self.apps = running, database, {web: "db", worker: "worker"}

    def __enter__(self) -> "CpuMeter":
        self.probe = psycopg.connect(self.database, application_name="bench-peer-probe")
        self.probe.autocommit = True
        self.redis = redis_pids()
        self.wire = self.statements_counted()
        return self

    def statements_counted(self) -> bool:
        """Whether pg_stat_statements counts this database's statements: it must be in
        shared_preload_libraries, which only a restart of PostgreSQL changes."""
        try:
            self.probe.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self.probe.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
        except psycopg.Error:
            return False
        return True

    def statements(self) -> float:
        """Statements clients sent this database so far, BEGIN and COMMIT included: the web's
        and the worker's (idle during a 1-client phase), not this meter's own, nor the
        foreign-key checks PostgreSQL runs itself (which it lists as statements too)."""
        (calls,) = self.probe.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND query NOT LIKE '%pg_stat_activity%' AND query NOT LIKE '%pg_stat_statements%'"
            " AND query NOT LIKE 'SELECT $2 FROM ONLY % FOR KEY SHARE OF x'"
        ).fetchone()
        return float(calls)

    def __exit__(self, *exc: object) -> None:
        self.probe.close()

    def groups(self) -> dict[int, str]:
        found = {pid: "web" for pid in process_tree(self.running.web.pid)}
        found |= {pid: "worker" for pid in process_tree(self.running.worker.pid)}
        found |= {pid: "shared" for pid in self.redis}
        rows = self.probe.execute(
            "SELECT pid, application_name, backend_type FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid()"
        ).fetchall()
        for pid, app, backend_type in rows:
            if backend_type != "client backend":
                found[pid] = "shared"
            elif app in self.apps:
                found[pid] = self.apps[app]
        return found

    def sample(self, phase: PhaseCpu, *, initial: bool) -> None:
        for pid, group in self.groups().items():
            seconds = cpu_seconds(pid)
            if seconds is None:
                continue
            # A process first seen after the start was born during the phase: all of its CPU.
            phase.first.setdefault(pid, seconds if initial else 0.0)
            phase.group[pid] = group
            phase.last[pid] = seconds

    @contextmanager
    def phase(self) -> Iterator[PhaseCpu]:
        measured = PhaseCpu()
        before = self.statements() if self.wire else None
        self.sample(measured, initial=True)
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(self.INTERVAL):
                self.sample(measured, initial=False)

        thread = threading.Thread(target=poll)
        thread.start()
        try:
            yield measured
        finally:
            stop.set()
            thread.join()
            self.sample(measured, initial=False)
            if before is not None:
                measured.statements = self.statements() - before


class Figures:
    """One round's figures, each with its reference measured in the same round (or None)."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float | None, float | None]] = {}

    def add(self, name: str, value: float | None, reference: float | None = None) -> None:
        self.values[name] = (value, reference)


# name, label, format, the reference's label, target
ROWS = [
    ("save1_p50", "save, 1 client, p50 ms", ".1f", "/healthz, 1 client, p50 ms", "< 6"),
    ("save1_p95", "save, 1 client, p95 ms", ".1f", "/healthz, 1 client, p95 ms", ""),
    ("save8_rate", "saves/s, 8 clients", ".0f", "/healthz req/s, 8 clients", "keep lead"),
    ("save8_p50", "save, 8 clients, p50 ms", ".1f", "/healthz, 8 clients, p50 ms", ""),
    ("save8_p95", "save, 8 clients, p95 ms", ".1f", "/healthz, 8 clients, p95 ms", ""),
    (
        "next_p50",
        "next item (resume + page), p50 ms",
        ".1f",
        "/healthz, 1 client, p50 ms",
        "keep lead",
    ),
    ("cpu_save", "server CPU per save ms (web + db)", ".2f", "per /healthz request", "<= 4.3"),
    ("cpu_save_web", "  gunicorn master + workers", ".2f", "per /healthz request", ""),
    ("cpu_save_db", "  PostgreSQL backends of the web", ".2f", "per /healthz request", ""),
    (
        "cpu_save_worker",
        "Celery worker + its backends, per save",
        ".2f",
        "per /healthz request",
        "",
    ),
    (
        "cpu_save_shared",
        "PG background + redis, per save (shared)",
        ".2f",
        "per /healthz request",
        "",
    ),
    ("web_rss", "web RSS MB, master + {workers} workers", ".0f", None, "<= 300"),
    ("web_rss_master", "  gunicorn master", ".0f", None, ""),
    ("web_rss_worker", "  largest worker", ".0f", None, ""),
    ("web_pss", "web PSS MB", ".0f", None, ""),
    ("worker_rss", "Celery worker RSS MB, master + pool of 2", ".0f", None, "< 500"),
    ("worker_pss", "Celery worker PSS MB", ".0f", None, ""),
    ("sql_first", "SQL per save, first answer (issue's count)", ".0f", None, "<= 6"),
    ("sql_first_wire", "  + BEGIN, health check: as sent", ".0f", None, ""),
    ("sql_changed", "SQL per save, changed answer (issue's count)", ".0f", None, "<= 6"),
    ("sql_changed_wire", "  + BEGIN, health check: as sent", ".0f", None, ""),
    ("sql_wire", "SQL per 1-client save, pg_stat_statements", ".1f", "per /healthz request", ""),
]
LABEL = 44


def table_line(label: str, values: list[float | None], fmt: str, target: str = "") -> str:
    """One row: each round's value, their median, the target; n/a where not measured."""
    cells = "".join(f"{'n/a':>9}" if v is None else f"{v:>9{fmt}}" for v in values)
    known = [v for v in values if v is not None]
    median = ""
    if len(values) > 1:
        median = f"{statistics.median(known):>9{fmt}}" if known else f"{'n/a':>9}"
    return f"{label:<{LABEL}}{cells}{median}   {target}".rstrip()


def print_table(rounds: list[Figures], *, workers: int) -> None:
    heads = "".join(f"{f'round {n + 1}':>9}" for n in range(len(rounds)))
    median = f"{'median':>9}" if len(rounds) > 1 else ""
    print(f"\n{'':<{LABEL}}{heads}{median}   target")
    for name, label, fmt, ref_label, target in ROWS:
        pairs = [figures.values[name] for figures in rounds]
        print(table_line(label.format(workers=workers), [v for v, _ in pairs], fmt, target))
        if ref_label:
            print(table_line(f"  ref: {ref_label}", [r for _, r in pairs], fmt))
    print(
        "\nEach ref line is measured in the same round, by the same clients, on the same server:"
        "\non a busy machine both move; compare a figure with its reference, not across runs."
        "\nCPU: utime+stime (/proc/PID/stat, 10 ms ticks per process) over the phase; 'shared' is"
        "\nPostgreSQL's background processes and redis-server, whatever else they served meanwhile."
    )


def round_data(number: int, items: int) -> Study:
    """An empty database, then one study of `items` items, one rater each."""
    call_command("flush", interactive=False, verbosity=0)
    return serving.study_build(
        title=f"peer comparison, round {number}",
        cases=items,
        sources=1,
        raters_per_item=1,
        usernames=[f"peer-rater{i}" for i in range(RATERS)],
    )


def measure_single(figures: Figures, rater: Rater, meter: CpuMeter, saves: int) -> None:
    """One client: /healthz then saves back to back, each with the server's CPU over it."""
    with meter.phase() as ref_cpu:
        ref = [rater.healthz() for _ in range(saves)]
    with meter.phase() as save_cpu:
        took = [rater.save() for _ in range(saves)]
    figures.add("save1_p50", p(took, 50), p(ref, 50))
    figures.add("save1_p95", p(took, 95), p(ref, 95))
    figures.add("cpu_save", save_cpu.ms_per(saves, "web", "db"), ref_cpu.ms_per(saves, "web", "db"))
    figures.add("cpu_save_web", save_cpu.ms_per(saves, "web"), ref_cpu.ms_per(saves, "web"))
    figures.add("cpu_save_db", save_cpu.ms_per(saves, "db"), ref_cpu.ms_per(saves, "db"))
    figures.add(
        "cpu_save_worker", save_cpu.ms_per(saves, "worker"), ref_cpu.ms_per(saves, "worker")
    )
    figures.add(
        "cpu_save_shared", save_cpu.ms_per(saves, "shared"), ref_cpu.ms_per(saves, "shared")
    )
    figures.add("sql_wire", save_cpu.statements_per(saves), ref_cpu.statements_per(saves))


def measure_eight(figures: Figures, raters: list[Rater], seconds: float) -> None:
    """8 clients back to back: saves, then /healthz under the same 8 clients."""
    took = hammer(raters[:8], "save", seconds)
    ref = hammer(raters[:8], "healthz", seconds / 2)
    figures.add("save8_rate", len(took) / seconds, len(ref) / (seconds / 2))
    figures.add("save8_p50", p(took, 50), p(ref, 50))
    figures.add("save8_p95", p(took, 95), p(ref, 95))


def open_next(rater: Rater) -> float:
    """The resume address, its redirect and the item page, timed; then, untimed, the item is
    answered and submitted so that the next sample opens a new item."""
    started = time.perf_counter()
    page = rater.http.get(f"{rater.base}/rate/{rater.study.token}/")
    took = time.perf_counter() - started
    assert page.status_code == 200, f"no item page: {page.status_code}"
    assert page.history, "the resume address did not redirect to an item"
    rater.answers.setdefault(page.url, 0)
    rater.post_answer(page.url)
    submitted = rater.http.post(
        f"{page.url}submit/",
        data={"csrfmiddlewaretoken": rater.csrf, "elapsed_ms": "5000", "seen": ""},
        allow_redirects=False,
    )
    assert submitted.status_code == 302, submitted.text[:200]
    return took


def measure_next(figures: Figures, rater: Rater, samples: int) -> None:
    ref = [rater.healthz() for _ in range(samples)]
    took = [open_next(rater) for _ in range(samples)]
    figures.add("next_p50", p(took, 50), p(ref, 50))


def measure_memory(figures: Figures, running: serving.Servers) -> None:
    web, worker = process_tree(running.web.pid), process_tree(running.worker.pid)
    figures.add("web_rss", serving.rss_mb(web))
    figures.add("web_rss_master", serving.rss_mb(web[:1]))  # process_tree lists it first
    figures.add("web_rss_worker", max((serving.rss_mb([pid]) for pid in web[1:]), default=math.nan))
    figures.add("web_pss", serving.pss_mb(web))
    figures.add("worker_rss", serving.rss_mb(worker))
    figures.add("worker_pss", serving.pss_mb(worker))


class HealthChecks:
    """Counts Django's connection health checks (CONN_HEALTH_CHECKS): a `SELECT 1` on the first
    query of each request that reuses a connection, sent outside Django's cursor, so
    CaptureQueriesContext does not see it; PostgreSQL does."""

    def __init__(self, conn) -> None:
        self.conn, self.count = conn, 0

    def __enter__(self) -> "HealthChecks":
        real = self.conn.is_usable

        def counted() -> bool:
            self.count += 1
            return real()

        self.conn.is_usable = counted
        return self

    def __exit__(self, *exc: object) -> None:
        del self.conn.is_usable


def statements_of_save(client: Client, url: str, answer: int) -> tuple[int, int]:
    """SQL statements of one save posted as the page posts it: as the issue counts them (COMMIT
    included, BEGIN not), and as PostgreSQL receives them (BEGIN and the health check too)."""
    conn = connections["default"]
    # What every request starts with (the test client leaves it out): a persistent connection
    # is marked for a health check, or closed once older than CONN_MAX_AGE.
    conn.close_if_unusable_or_obsolete()
    with CaptureQueriesContext(conn) as queries, HealthChecks(conn) as checks:
        response = client.post(
            url,
            {"question": "overall", "answer": str(answer), "elapsed_ms": "4000"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200, response
    assert "Saved" in response.content.decode(), response.content[:200]
    logged = [query["sql"] for query in queries.captured_queries]
    return sum(1 for q in logged if q != "BEGIN"), len(logged) + checks.count


def measure_sql(figures: Figures, study: Study) -> None:
    """In this process, logged in as a rater: a first answer and a changed answer, each after a
    warm-up save on another item (what a worker has cached by then, this process has too)."""
    user = get_user_model().objects.get(username="peer-rater8")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    tokens = list(
        Assignment.objects.filter(study=study, rater=user)
        .order_by("position")
        .values_list("token", flat=True)[:2]
    )
    warm, item = (f"/rate/{study.token}/{t}/" for t in tokens)
    statements_of_save(client, warm, 3)
    counted, wire = statements_of_save(client, item, 4)
    figures.add("sql_first", counted)
    figures.add("sql_first_wire", wire)
    counted, wire = statements_of_save(client, item, 5)
    figures.add("sql_changed", counted)
    figures.add("sql_changed_wire", wire)


class Steps:
    """How long each untimed step of a round took: where a slow run spends its time."""

    def __init__(self) -> None:
        self.last, self.parts = time.monotonic(), []

    def done(self, what: str) -> None:
        now = time.monotonic()
        self.parts.append(f"{what} {now - self.last:.0f} s")
        self.last = now


def logged_in(study: Study, base: str) -> list[Rater]:
    """The raters, logged in in parallel: each login hashes a password, which takes a while."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda i: Rater(f"peer-rater{i}", study, base), range(RATERS)))


def warm_up(raters: list[Rater], args: argparse.Namespace) -> None:
    """Until every gunicorn worker has booted and holds its database connection, then a few
    saves each: nothing timed afterwards pays for a worker's first requests."""
    give_up = time.monotonic() + 120
    with psycopg.connect(args.database, autocommit=True) as probe:
        while True:
            hammer(raters[:8], "healthz", 1)
            (connected,) = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [WEB_APP]
            ).fetchone()
            if connected >= args.workers:
                break
            if time.monotonic() > give_up:
                sys.exit(
                    f"only {connected} of {args.workers} gunicorn workers reached the database"
                )
    hammer(raters[:8], "save", 2)


def run_round(number: int, args: argparse.Namespace) -> Figures:
    steps, figures = Steps(), Figures()
    study = round_data(number, args.items)
    steps.done(f"{args.items:,} items built in")
    with serving.servers_running(
        port=args.port,
        workers=args.workers,
        worker_args=["--loglevel=warning", "--concurrency=2"],
        web_env={"PGAPPNAME": WEB_APP},
        worker_env={"PGAPPNAME": WORKER_APP},
        log=SERVER_LOG,
    ) as running:
        steps.done("servers up in")
        raters = logged_in(study, running.base)
        steps.done("logins")
        warm_up(raters, args)
        steps.done("warm-up")
        with CpuMeter(running, database=args.database, web=WEB_APP, worker=WORKER_APP) as meter:
            measure_single(figures, raters[0], meter, args.saves)
        measure_eight(figures, raters, args.seconds)
        measure_next(figures, raters[9], args.next)
        measure_memory(figures, running)
        steps.done("measured in")
    steps.done("stopped in")
    measure_sql(figures, study)
    print(f"round {number}: " + ", ".join(steps.parts), flush=True)
    return figures


def main() -> None:
    args = ARGS
    logging.getLogger("axes").setLevel(logging.WARNING)  # a line per login otherwise
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as a production deploy does
    print(
        f"peer comparison: {args.rounds} rounds of {args.items:,} items (one 5-point Likert "
        f"question each), {RATERS} raters; gunicorn {args.workers} sync workers, Celery "
        f"prefork 2, PostgreSQL, Redis; {os.cpu_count()} cores; loopback HTTP",
        flush=True,
    )
    rounds = [run_round(n + 1, args) for n in range(args.rounds)]
    print_table(rounds, workers=args.workers)


if __name__ == "__main__":
    main()
