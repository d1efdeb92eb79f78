"""anime-vector-service: the image_ingestor service."""
