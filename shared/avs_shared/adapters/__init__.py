"""Adapters: the only code that imports aiobotocore, redis, qdrant_client or qdrant_edge."""
