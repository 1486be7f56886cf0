"""Conformance suites and fixtures for plugin authors (pytest plugin ``paycode``)."""
