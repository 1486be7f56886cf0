"""The store tests. Their PostgreSQL fixtures (``pg_server``, ``pg_dsn``, ``backend_kind``, ``journal_setting``,
``open_backend``, ``journal_backend``) are in tests/store/fixtures.py, loaded for every test by tests/conftest.py so
that the journal tests of tests/ run on both backends too."""
