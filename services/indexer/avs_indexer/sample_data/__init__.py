"""Project-authored sample data (64 enriched anime entries) used for local runs and tests."""
