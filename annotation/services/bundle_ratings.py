"""The paper bundle's three files of ratings: ratings.csv, ratings.sav and ratings.dta, from
one reading of the ratings (a million of them in seconds and some 100 MB), and read_bundle.R."""

import contextlib
from collections.abc import Callable, Iterator

from annotation.core import columns as cols
from annotation.core import memory, tables
from annotation.models import Study
from annotation.selectors.exports import study_question_rows, study_ratings_rows
from annotation.selectors.ratings_rows import study_ratings_csv_batches


def _csv(out, table: cols.Table, rows) -> None:
    for chunk in tables.csv_chunks(rows, table.names):
        out.write(chunk)


def stat_file_steps(
    study: Study, files: list[cols.Table], ratings: "BundleRatings"
) -> list[tuple[str, object]]:
    """ratings.sav and ratings.dta (from the columns gathered while ratings.csv was written),
    and read_bundle.R."""
    from annotation.core import stat_files  # pandas: the web process must not load it (issue 22)

    label = f"{study.title}: ratings"
    variables = ratings.variables

    def sav(out) -> None:
        for part in stat_files.sav_parts(ratings.frame(), variables, file_label=label):
            out.write(part)

    def dta(out) -> None:
        for part in stat_files.dta_parts(ratings.frame(), variables, file_label=label):
            out.write(part)
        ratings.release()  # the last file made from them

    return [
        (stat_files.SAV, sav),
        (stat_files.DTA, dta),
        (
            stat_files.R_SCRIPT,
            lambda out: out.write(stat_files.r_script(files, ratings.questions, title=study.title)),
        ),
    ]


class BundleRatings:
    """ratings.csv, and the columns of ratings.sav and ratings.dta gathered as it is written:
    one reading of a million ratings for the three files, as tuples."""

    def __init__(self, study: Study, *, helper=None) -> None:
        from annotation.core import stat_files  # pandas: not in the web process (issue 22)

        self.study, self.stat_files = study, stat_files
        self.table = cols.ratings_table(reading=study.is_reading)  # `arm` in assisted reading
        self.questions = list(study_question_rows(study=study))
        self.variables = stat_files.question_variables(self.questions, reading=study.is_reading)
        self.columns = self.frame_ = None
        self.helper = helper  # a second connection in the bundle's snapshot, or None

    def write_csv(self, out, *, begun: Callable[[], None] = lambda: None) -> None:
        """ratings.csv into `out`; `begun` is called as each batch of lines is written (on
        PostgreSQL: from the first on, the first half of the ratings is sorted)."""
        columns = self.stat_files.RatingsColumns(self.variables)
        batches = study_ratings_csv_batches(
            study=self.study, answers_of=self._text_questions(), helper=self.helper
        )
        if batches is not None:  # PostgreSQL sorts and packs, NumPy lays out the lines
            # Closed here if writing fails: the batches' own transaction block must end before
            # the bundle's does, or the bundle's read-only transaction would stay open. No
            # cycle collection: each batch is tens of thousands of new objects (texts, tuples),
            # which would have the collector walk everything the worker holds, time and again
            # (a million ratings: 1.0 s of the worker's 3.0 s).
            with contextlib.closing(batches), memory.cycle_collection_paused():
                out.write(tables.csv_header(self.table.names).encode())
                for batch in batches:
                    out.write(batch.data)
                    columns.add_coded(batch.coded)
                    begun()
            self.columns = columns
            return

        def rows() -> Iterator[tuple]:
            for row in study_ratings_rows(study=self.study):
                columns.add(row)
                yield row

        _csv(out, self.table, tables.csv_cells(rows(), self.table.columns))
        self.columns = columns  # whole only once every row is written

    def _text_questions(self) -> list[int]:
        """The questions whose variable holds the answer itself, not its value."""
        texts = [v.question for v in self.variables if not v.numeric]
        return list(self.study.questions.filter(key__in=texts).values_list("pk", flat=True))

    def frame(self):
        if self.frame_ is None:
            if self.columns is None:  # not gathered by ratings.csv: read them
                self.columns = self.stat_files.RatingsColumns(self.variables)
                for row in study_ratings_rows(study=self.study):
                    self.columns.add(row)
            self.frame_, self.columns = self.columns.frame(), None
            # The columns and what the frame was made with, freed: handed back before the
            # files are laid out (a million ratings: some 50 MB lower from here on).
            memory.release_freed()
        return self.frame_

    def release(self) -> None:
        self.columns = self.frame_ = None
