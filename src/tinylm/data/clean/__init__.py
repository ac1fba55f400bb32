"""`tinylm data clean`: repair, normalise, filter and deduplicate story corpora, with a report."""

from tinylm.data.clean.config import CleanConfig, build_clean_config
from tinylm.data.clean.pipeline import CleanResult, clean

__all__ = ["CleanConfig", "CleanResult", "build_clean_config", "clean"]
