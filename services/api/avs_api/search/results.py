"""What a search returns: one page of anime as a result list shows them.

Every field of an item comes from the vector index payload, so a result list costs
no DynamoDB read; the full entry is ``GET /anime/{anime_id}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from .params import SearchMode, Sort, SortOrder


class SearchItem(BaseModel):
    """One anime of a result list."""

    anime_id: str
    title: str
    title_english: str | None = None
    title_japanese: str | None = None
    type: str | None = None
    status: str | None = None
    year: int | None = None
    season: str | None = None
    episodes: int | None = None
    score: float | None = Field(default=None, description="The anime's rating (0-10), not the match.")
    popularity: float | None = Field(default=None, description="Members on the largest provider.")
    genres: list[str] = Field(default_factory=list)
    image: str | None = None
    relevance: float | None = Field(
        default=None, description="How well it matches `q` (fused RRF or similarity); text search only."
    )
    rank: int | None = Field(
        default=None, description="1-based position in the whole result list; text search only."
    )

    @classmethod
    def from_payload(
        cls,
        anime_id: str,
        payload: Mapping[str, Any] | None,
        *,
        relevance: float | None = None,
        rank: int | None = None,
    ) -> SearchItem:
        p = payload or {}
        return cls(
            anime_id=str(p.get("anime_id") or anime_id),
            title=str(p.get("title") or ""),
            title_english=p.get("title_english"),
            title_japanese=p.get("title_japanese"),
            type=p.get("type"),
            status=p.get("status"),
            year=p.get("year"),
            season=p.get("season"),
            episodes=p.get("episodes"),
            score=p.get("score"),
            popularity=p.get("popularity"),
            genres=list(p.get("genres") or []),
            image=p.get("image"),
            relevance=relevance,
            rank=rank,
        )


#: Payload fields a result list reads (the rest of the payload is not transferred).
ITEM_FIELDS: tuple[str, ...] = (
    "anime_id",
    "title",
    "title_english",
    "title_japanese",
    "type",
    "status",
    "year",
    "season",
    "episodes",
    "score",
    "popularity",
    "genres",
    "image",
)


class FacetBucket(BaseModel):
    value: str | int | bool
    count: int


class SearchResult(BaseModel):
    """One page of results."""

    items: list[SearchItem]
    limit: int
    page: int | None = Field(default=None, description="The page number, when paging by `page`.")
    has_more: bool = Field(description="Whether a next page exists (follow `next_cursor` or `page + 1`).")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
    total: int | None = Field(
        default=None,
        description="How many anime match the filters (structured search). Text search ranks rather "
        "than counts, so it leaves this null.",
    )
    sort: Sort = Field(description="The sort applied (relevance without `q` falls back to popularity).")
    order: SortOrder
    query: str | None = None
    mode: SearchMode | None = None
    facets: dict[str, list[FacetBucket]] | None = Field(
        default=None, description="Value counts under the current filter, for the facets asked for."
    )


class SimilarResult(SearchResult):
    """Anime like one anime (``GET /anime/{anime_id}/similar``), best first, the anchor excluded."""

    anime_id: str = Field(description="The anime the others are similar to.")
    using: list[str] = Field(
        description="Its stored vectors the others are compared with; the neighbour lists of each are "
        "fused with RRF (`relevance`)."
    )
