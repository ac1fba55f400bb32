"""Serving trained runs: the shared model engine and workspace (used by the GUI too) and the
OpenAI-compatible HTTP API of `tinylm serve`."""
