"""Operator tasks shared by the CLI (``avs ...``) and the API's operator endpoints."""
