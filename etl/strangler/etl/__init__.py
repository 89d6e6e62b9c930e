"""ETL from the legacy systems into feature tables.

A feature view of the spec's ``features:`` section names a source (a database
table or query, or a SOAP/RPC operation); its rows are read in chunks, decoded
by the mapping layer, staged and upserted into a history table and a latest
table, incrementally by watermark and resumably after a crash.
"""
