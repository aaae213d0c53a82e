import re

from django.core.management.base import BaseCommand, CommandError

from annotation import selectors

HASH = re.compile(r"^[0-9a-f]{64}$")


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chain: every entry's hash recomputed, seq without gaps, "
        "each prev_hash linking to the entry before. Prints the number of entries and the head "
        "hash; exits with status 1 naming the first bad entry. Deleting the newest entries "
        "leaves a shorter chain that is still whole: record the head hash elsewhere and pass "
        "it as --expect-head to catch that."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--expect-head",
            metavar="HASH",
            help="a head hash recorded earlier: the chain must still contain it (entries "
            "after it are new ones)",
        )
        parser.add_argument(
            "--since",
            type=int,
            default=1,
            metavar="SEQ",
            help="start the walk at this entry (linked to the one before it); default 1",
        )

    def handle(self, *args, expect_head: str | None = None, since: int = 1, **options) -> None:
        if expect_head is not None and not HASH.match(expect_head):
            raise CommandError("--expect-head: give the 64 hex digits of a recorded head hash.")
        if since < 1:
            raise CommandError("--since: the first entry is 1.")
        report = selectors.audit_chain_check(since=since)
        self.stdout.write(f"Entries checked: {report.entries} (from seq {since})")
        self.stdout.write(f"Head: seq {report.head_seq}, hash {report.head_hash}")
        if report.problems:
            for problem in report.problems:
                self.stderr.write(f"BROKEN: {problem}")
            raise CommandError(f"The audit trail is broken at entry {report.problems[0].seq}.")
        if expect_head is not None:
            self._check_expected_head(expect_head)
        self.stdout.write(self.style.SUCCESS("The audit trail's chain is intact."))

    def _check_expected_head(self, expected: str) -> None:
        found = selectors.audit_events().filter(hash=expected).values_list("seq", flat=True)
        seq = found.first()
        if seq is None:
            raise CommandError(
                f"The recorded head {expected} is not in the chain: entries up to it were "
                "deleted, or it was recorded from another database."
            )
        self.stdout.write(f"The recorded head is entry {seq}; the chain goes on from there.")
