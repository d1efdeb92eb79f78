"""Agentic search: a planner turns a natural-language query into a validated search plan.

``plan`` (the ``SearchPlan`` model), ``planner`` (the port and its failures), ``rules``
(the built-in planner, default and fallback), ``bedrock`` and ``openai_compat`` (LLM
planners), ``llm_common`` (their prompt and answer parsing), ``fallback`` (deadline and
fallback to the rules), ``planning`` (the planner the settings ask for) and ``execute``
(running a plan through the search service).
"""
