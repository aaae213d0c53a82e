# English dates as the pages have always written them, "6 December 2026, 15:00" (clinical
# staff in many countries read it without doubt), rather than Django's "Dec. 6, 2026, 3 p.m.".
# German and Spanish keep Django's formats for their language.
DATETIME_FORMAT = "j F Y, H:i"
