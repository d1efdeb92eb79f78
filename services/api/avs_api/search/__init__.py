"""Search over the ``anime`` collection: structured (filters + sort), semantic (``q``) and similar-to.

``params`` holds the inputs (shared by the HTTP routes and the agentic planner),
``filters`` turns them into the vector index's filter, ``service`` runs the searches
and ``results`` holds what they return.
"""
