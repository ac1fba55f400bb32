"""tinylm's version, in a module of its own so that any module can name it without importing
the package's entry points (and the package can import those modules)."""

__version__ = "0.1.0"
