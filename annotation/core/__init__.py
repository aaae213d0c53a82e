"""Code that needs no database and imports no Django (a contract in `make lint` says so): study
designs, rubrics and question kinds, reading import files, calling model endpoints and judges,
figures, CSV tables, and the statistics (`stats`). Plain data in, plain data out."""
