"""The embedded local stack: the moto server and redis-server as child processes."""
