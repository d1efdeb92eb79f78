"""The operator CLI `avs` and the all-in-one local runner."""
