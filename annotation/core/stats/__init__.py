"""Statistics for reader studies, as plain data: no Django here.

Everything takes long data (unit, rater, value) with declared categories and a level of
measurement (`data.ratings_from`) and returns results that name their method exactly. The
Django side shapes a study's ratings into that form, with pairwise answers already in canonical
source order and "not applicable" left out: `annotation.services.statistics` calls
`coefficients` directly, the checklist pages go through the small `agreement` adapter, and
`python -m annotation.core.stats agreement` (or `manage.py agreement`) reads a CSV collected
anywhere.
"""
