"""The database adapter: tables as REST resources, stored procedures as operations.

A spec entry (``strangler.yaml``)::

    systems:
      chinook:
        kind: database
        odbc: "DRIVER={MariaDB Unicode};SERVER=db;PORT=3306;DATABASE=chinook;UID=app;PWD=${DB_PW}"
        # or: url: postgresql+psycopg://app:${DB_PW}@db/chinook   (any SQLAlchemy URL)
        tables:
          Invoice: {}                         # read-only (the default)
          PlaylistTrack: {}                   # composite primary key
          Note: {writes: true, columns: [NoteId, Text], char_padding: keep}
          InvoiceView: {key: [InvoiceId]}     # views and keyless tables need a key
        procedures:
          invoices_by_country: {params: {country: string}, safe: true}
        max_page_size: 500
        default_page_size: 50
        statement_timeout_s: 30
        database_json: true                   # PostgreSQL, SQLite: the database writes pages

Routes, under ``/database/{system}``:

* ``GET /Invoice?BillingCountry=eq.Germany&Total=gt.5&sort=-Total&fields=InvoiceId,Total``
  → ``{"items": [...], "next_cursor": "..."}``; pass ``?cursor=<next_cursor>`` (same
  filters and sort) for the next page, until ``next_cursor`` is null. Operators:
  ``eq ne lt le gt ge like in is`` (``in.1,2,3``, ``like.A%25``, ``is.null``,
  ``is.notnull``); also ``limit`` and ``offset`` (see ``query``).
* ``GET /PlaylistTrack/1,3402``: one row by its key values in key order (see ``rows``).
* ``POST /Note``, ``PATCH /Note/7``, ``DELETE /Note/7``: only for ``writes: true``
  tables; others answer 405.
* ``POST /invoices_by_country`` with ``{"country": "Germany"}`` → ``{"rows": [...]}``.

On PostgreSQL and SQLite through SQLAlchemy, a list page whose answered
columns the database can write exactly as the adapter would is written by the
database (``json_pages``, byte for byte the same answer); other pages, other
databases and the raw ODBC path are written by the adapter.

Errors (problem+json): bad filter, sort, fields, limit, cursor or key → 400
naming the parameter; no such row → 404; write to a read-only table → 405; body
that does not fit, or refused by the database (duplicate key) → 422; database
failure → 502; database unreachable → 503 with ``Retry-After``; statement
timeout → 504.
"""

from strangler.adapters.db.adapter import DatabaseAdapter

__all__ = ["DatabaseAdapter"]
