"""English dates as clinical staff everywhere read them: day, month name, year (6 Dec 2026),
not Django's American 12/06/2026, which a European reader takes for 12 June. Only the short
formats the pages use are set; everything else is Django's."""

SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
