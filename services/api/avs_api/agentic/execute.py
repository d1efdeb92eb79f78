"""Running a plan through the search service, and the agentic search end to end.

A plan runs as exactly one search:

* ``similar_to`` set: the title is resolved to an anime by a title search (BM25 over
  titles and synonyms, an exact name first; without the plan's filters, so "movies like
  Cowboy Bebop" finds the TV series), then anime like it are listed under the filters.
  A title that finds nothing joins the query text instead.
* query text: a semantic (hybrid) search under the filters, ranked by relevance (a sort
  hint does not reorder a ranked list; the response says so).
* neither: a structured search under the filters in the plan's sort order.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.planner import PlannerReport
from avs_api.agentic.planning import Planning
from avs_api.bootstrap import ApiResources
from avs_api.search.params import Pagination, SearchFilters, Sort, SortOrder
from avs_api.search.results import ITEM_FIELDS, SearchItem, SearchResult
from avs_api.search.service import resolve_filter, semantic_search, similar_to, structured_search
from avs_api.search.titles import NAME_FIELDS, PIN_CANDIDATES, exact_name_match
from avs_shared.errors import NotFound
from avs_shared.ports.vector import SparseQuery

MAX_AGENTIC_LIMIT = 50


class ResolvedTitle(BaseModel):
    """What ``similar_to`` was resolved to (``anime_id`` null: no anime found by that title)."""

    title: str = Field(description="The title as the plan names it.")
    anime_id: str | None = None
    matched_title: str | None = Field(default=None, description="The anime's own title.")


class ExecutedSearch(BaseModel):
    """How the plan was run."""

    mode: Literal["similar", "semantic", "structured"]
    sort: Sort
    order: SortOrder
    similar_to: ResolvedTitle | None = None
    notes: list[str] = Field(default_factory=list)


class PlanView(BaseModel):
    """The plan used, filters without their unset fields."""

    query: str | None
    filters: dict[str, Any]
    sort: Sort | None
    order: SortOrder | None
    similar_to: str | None


class AgenticSearchResponse(BaseModel):
    q: str
    plan: PlanView
    planner: PlannerReport
    search: ExecutedSearch
    items: list[SearchItem]
    has_more: bool
    next_cursor: str | None = Field(
        default=None,
        description="For the next page of a structured or semantic search with the plan's parameters.",
    )


async def agentic_search(
    resources: ApiResources, planning: Planning, q: str, *, limit: int
) -> AgenticSearchResponse:
    """Plan ``q`` (falling back to the rules if the model fails), run the plan, and report both."""
    index = await resources.ready_index()
    outcome = await planning.plan(q, index)
    result, executed = await run_plan(resources, outcome.plan, limit=limit)
    return AgenticSearchResponse(
        q=q,
        plan=PlanView.model_validate(outcome.plan.summary()),
        planner=outcome.report,
        search=executed,
        items=result.items,
        has_more=result.has_more,
        next_cursor=result.next_cursor,
    )


async def run_plan(
    resources: ApiResources, plan: SearchPlan, *, limit: int
) -> tuple[SearchResult, ExecutedSearch]:
    notes: list[str] = []
    resolved: ResolvedTitle | None = None
    text = plan.query
    if plan.similar_to:
        resolved = await resolve_title(resources, plan.similar_to)
        if resolved.anime_id is not None:
            try:
                result = await similar_to(resources, resolved.anime_id, plan.filters, limit=limit)
            except NotFound:  # gone between the title search and this one
                resolved = ResolvedTitle(title=plan.similar_to)
            else:
                if plan.query:
                    notes.append("the query text is not used when listing anime similar to a title")
                return result, _executed("similar", result, resolved, notes)
        notes.append(f"no anime found by the title {plan.similar_to!r}; searched for it as text")
        text = " ".join(t for t in (plan.similar_to, plan.query) if t)
    pagination = Pagination(limit=limit)
    if text:
        result = await semantic_search(resources, text, plan.filters, pagination=pagination)
        if plan.sort not in (None, Sort.RELEVANCE):
            notes.append(
                f"sort {plan.sort.value!r} applies to searches without query text; ranked by relevance"
            )
        return result, _executed("semantic", result, resolved, notes)
    result = await structured_search(
        resources, plan.filters, sort=plan.sort or Sort.POPULARITY, order=plan.order, pagination=pagination
    )
    return result, _executed("structured", result, resolved, notes)


async def resolve_title(resources: ApiResources, title: str) -> ResolvedTitle:
    """The anime a title names: a BM25 search over titles and synonyms of every active anime.

    An exact name match among the best few wins, else the best BM25 hit; no hit at all
    (no word in common with any title) leaves it unresolved.
    """
    index = await resources.ready_index()
    flt = await resolve_filter(index, SearchFilters())
    names = list(dict.fromkeys([*ITEM_FIELDS, *NAME_FIELDS]))
    hits = await index.search(SparseQuery(text=title), filter=flt, limit=PIN_CANDIDATES, with_payload=names)
    best = exact_name_match(title, hits) or (hits[0] if hits else None)
    if best is None:
        return ResolvedTitle(title=title)
    item = SearchItem.from_payload(best.id, best.payload)
    return ResolvedTitle(title=title, anime_id=item.anime_id, matched_title=item.title)


def _executed(
    mode: Literal["similar", "semantic", "structured"],
    result: SearchResult,
    resolved: ResolvedTitle | None,
    notes: list[str],
) -> ExecutedSearch:
    return ExecutedSearch(mode=mode, sort=result.sort, order=result.order, similar_to=resolved, notes=notes)
