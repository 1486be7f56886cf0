"""Not part of the tutorial plugin: keeps the repository's test run from collecting the plugin's own tests.

Those need the plugin installed; tests/test_scanner_tutorial.py installs a copy into a
temporary folder and runs them there.
"""

collect_ignore = ["tests"]
