"""anime-vector-service: the sync service."""
