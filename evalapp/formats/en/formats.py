"""English dates as clinical staff everywhere read them: day, month name, year (6 Dec 2026,
6 December 2026, 15:00), not Django's American 12/06/2026, which a European reader takes for 12
June, nor "Dec. 6, 2026, 3 p.m.". Only the formats the pages use are set; everything else is
Django's. German and Spanish keep Django's formats for their language."""

SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
DATETIME_FORMAT = "j F Y, H:i"
