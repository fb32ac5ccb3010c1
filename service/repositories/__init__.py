"""Data access: SQL per entity over one psycopg connection; never commits."""
