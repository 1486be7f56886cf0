"""A plugin whose import fails, as one does when a native library is missing."""

raise ImportError("needs libfoo, which is not installed")
