"""anime-vector-service: the indexer service."""
