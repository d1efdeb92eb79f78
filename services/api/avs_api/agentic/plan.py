"""``SearchPlan``: what a planner makes of a natural-language query, validated once.

Every planner (rules, Bedrock, any OpenAI-compatible model) returns this model; the
route runs it through the search service. A model's answer is validated against the
same model, so an LLM can never ask for more than a client of the structured search
could (and never for orphaned anime).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from avs_api.search.params import MAX_QUERY_CHARS, SearchFilters, Sort, SortOrder

MAX_TITLE_CHARS = 200


class SearchPlan(BaseModel):
    """A validated search plan.

    ``query`` is the refined query text (semantic search); without it the plan is a
    structured search. ``similar_to`` names an anime by title (resolved to an id by a
    title search); results are then anime like it, under ``filters``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="What the results should be about, the filters' words removed; null if nothing is left.",
    )
    filters: SearchFilters = Field(default_factory=SearchFilters, description="Structured filters (AND).")
    sort: Sort | None = Field(
        default=None,
        description="Order of the results; null means relevance with a query, popularity without one.",
    )
    order: SortOrder | None = Field(default=None, description="Direction of the sort; null: its default.")
    similar_to: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TITLE_CHARS,
        description='Title of an anime the results should resemble ("like Cowboy Bebop"), else null.',
    )

    @field_validator("query", "similar_to", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            value = " ".join(value.split())
            return value or None
        return value

    @field_validator("filters")
    @classmethod
    def _catalogue_scope(cls, filters: SearchFilters) -> SearchFilters:
        # Orphaned anime are an operator's view; a planner never widens to them.
        if filters.include_orphaned:
            raise ValueError("a search plan cannot include orphaned anime")
        return filters

    def summary(self) -> dict[str, Any]:
        """The plan as JSON, filters without their unset fields (what responses and logs show)."""
        return {
            "query": self.query,
            "filters": self.filters.model_dump(mode="json", exclude_defaults=True),
            "sort": self.sort.value if self.sort else None,
            "order": self.order.value if self.order else None,
            "similar_to": self.similar_to,
        }
