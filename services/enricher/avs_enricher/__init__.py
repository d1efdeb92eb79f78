"""anime-vector-service: the enricher service."""
