"""Statistics for reader studies, as plain data: no Django here.

Everything takes long data (unit, rater, value) with declared categories and a level of
measurement (`data.ratings_from`) and returns results that name their method exactly. The
Django side (`annotation.services.statistics`) shapes a study's ratings into this form, with
pairwise answers already in canonical source order and "not applicable" left out.
"""
