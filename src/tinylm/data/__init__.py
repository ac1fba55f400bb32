"""Data: reading story files, preparing token shards, and batching them for training."""
