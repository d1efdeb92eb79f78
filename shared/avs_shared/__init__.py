"""anime-vector-service shared package: schema, events, topology, runtime and adapters."""
