"""anime-vector-service: the api service."""
