"""What a column is: its type (the Table Schema's), how booleans and moments are written, and
the `Column` and `Table` every file of the bundle is made of."""

from dataclasses import dataclass

# Types are the Table Schema's (https://specs.frictionlessdata.io/table-schema/).
STRING, INTEGER, NUMBER, BOOLEAN, DATETIME, ANY = (
    "string",
    "integer",
    "number",
    "boolean",
    "datetime",
    "any",
)


# Base R's read.csv reads TRUE and FALSE (and T, F) as logical, not true or false (R 4.2); pandas
# reads all three spellings as bool.
TRUE, FALSE = "TRUE", "FALSE"


# Seconds, UTC, a literal Z: what R's as.POSIXct and pandas read without losing the time.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


MISSING = ""  # an empty cell: no value


R_TIMESTAMP = 'as.POSIXct(x, format = "%Y-%m-%dT%H:%M:%SZ", tz = "UTC")'


PANDAS_TIMESTAMP = 'pd.to_datetime(x, format="%Y-%m-%dT%H:%M:%SZ", utc=True)'


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """One CSV file of the bundle."""

    path: str
    title: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def stem(self) -> str:
        return self.path.removesuffix(".csv")


def _column(name: str, type_: str, description: str, enum: tuple = ()) -> Column:
    return Column(name, type_, description, tuple(str(value) for value in enum))
