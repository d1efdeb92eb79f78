"""What a search asks for: filters, sort and pagination, validated once.

These models are the service layer's input contract: the HTTP routes build them from
query parameters, the agentic planner builds them from its plan. Field names are the
Python names (``genres_all``); each field also has the query-parameter alias the
routes publish (``genre``), and both spellings validate.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from avs_shared.schema.common import AnimeStatus, AnimeType, Season

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_PAGE = 1000
#: Page numbers reach this many results at most (the cost of an offset grows with it);
#: cursors go further at constant cost.
MAX_PAGED_RESULTS = 10_000
MAX_QUERY_CHARS = 300
MAX_LIST_VALUES = 20  # per repeated parameter; more is a client bug, not a search
MAX_CURSOR_CHARS = 1024

Year = Annotated[int, Field(ge=1900, le=2100)]
# Stripped before the length check, so a value of only spaces (any Unicode space) is a 422.
Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Sort(StrEnum):
    """What results are ordered by."""

    POPULARITY = "popularity"
    SCORE = "score"
    YEAR = "year"
    TITLE = "title"
    RELEVANCE = "relevance"  # only with a query; structured search falls back to popularity


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


#: The direction each sort uses when none is given.
DEFAULT_ORDER: dict[Sort, SortOrder] = {
    Sort.POPULARITY: SortOrder.DESC,
    Sort.SCORE: SortOrder.DESC,
    Sort.YEAR: SortOrder.DESC,
    Sort.TITLE: SortOrder.ASC,
    Sort.RELEVANCE: SortOrder.DESC,
}


class SearchMode(StrEnum):
    """How a text query is matched: both retrievers fused (default), or one alone."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


class Facet(StrEnum):
    """Value counts a structured search can return for its current filter."""

    GENRES = "genres"
    YEARS = "years"
    TYPES = "types"
    STATUSES = "statuses"


def _upper(value: object) -> object:
    if isinstance(value, str):
        return value.strip().upper()
    if isinstance(value, list):
        return [v.strip().upper() if isinstance(v, str) else v for v in value]
    return value


class SearchFilters(BaseModel):
    """Structured filters; every one given must hold (AND), each list is described per field.

    Values of ``genres_*`` and ``rating`` match the catalogue case-insensitively (a
    rating also matches by its code, e.g. ``PG-13``); ``tags_*`` are lower case;
    ``type``, ``status`` and ``season`` are enums (any case).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    genres_all: list[Term] = Field(
        default_factory=list,
        alias="genre",
        max_length=MAX_LIST_VALUES,
        description="Has every one of these genres. Repeat: `genre=Action&genre=Comedy`.",
    )
    genres_any: list[Term] = Field(
        default_factory=list,
        alias="genre_any",
        max_length=MAX_LIST_VALUES,
        description="Has at least one of these genres. Repeat the parameter.",
    )
    genres_exclude: list[Term] = Field(
        default_factory=list,
        alias="genre_not",
        max_length=MAX_LIST_VALUES,
        description="Has none of these genres. Repeat the parameter.",
    )
    tags_all: list[Term] = Field(
        default_factory=list,
        alias="tag",
        max_length=MAX_LIST_VALUES,
        description="Has every one of these tags (lower case, e.g. `time travel`). Repeat the parameter.",
    )
    tags_any: list[Term] = Field(
        default_factory=list,
        alias="tag_any",
        max_length=MAX_LIST_VALUES,
        description="Has at least one of these tags. Repeat the parameter.",
    )
    tags_exclude: list[Term] = Field(
        default_factory=list,
        alias="tag_not",
        max_length=MAX_LIST_VALUES,
        description="Has none of these tags. Repeat the parameter.",
    )
    year: Year | None = Field(default=None, description="First aired in exactly this year.")
    year_from: Year | None = Field(default=None, description="First aired in this year or later.")
    year_to: Year | None = Field(default=None, description="First aired in this year or earlier.")
    season: Season | None = Field(default=None, description="Season of first airing (any case).")
    type: list[AnimeType] = Field(
        default_factory=list,
        max_length=MAX_LIST_VALUES,
        description="Any of these distribution types (TV, MOVIE, OVA, ...). Repeat the parameter.",
    )
    status: list[AnimeStatus] = Field(
        default_factory=list,
        max_length=MAX_LIST_VALUES,
        description="Any of these airing statuses (FINISHED, ONGOING, UPCOMING). Repeat the parameter.",
    )
    episodes_min: int | None = Field(
        default=None, ge=0, le=100_000, description="At least this many episodes."
    )
    episodes_max: int | None = Field(
        default=None, ge=0, le=100_000, description="At most this many episodes."
    )
    score_min: float | None = Field(default=None, ge=0, le=10, description="Score (0-10) at least this.")
    studios: list[Term] = Field(
        default_factory=list,
        alias="studio",
        max_length=MAX_LIST_VALUES,
        description="Made by any of these studios (exact name). Repeat the parameter.",
    )
    nsfw: bool | None = Field(
        default=None, description="`false` hides adult entries, `true` shows only them."
    )
    rating: list[Term] = Field(
        default_factory=list,
        max_length=MAX_LIST_VALUES,
        description="Any of these age ratings, by text or code (`PG-13`, `R`, `R+`). Repeat the parameter.",
    )
    include_orphaned: bool = Field(
        default=False, description="Also list anime that left the source database (hidden by default)."
    )

    @field_validator("season", "type", "status", mode="before")
    @classmethod
    def _enums_any_case(cls, value: object) -> object:
        return _upper(value)

    @field_validator("tags_all", "tags_any", "tags_exclude")
    @classmethod
    def _lower_tags(cls, tags: list[str]) -> list[str]:
        return [t.lower() for t in tags]

    # Cross-field checks are field validators (not a model validator) so that the
    # error names the offending field: ``year_to``, not the whole model.
    @field_validator("year_to")
    @classmethod
    def _year_range(cls, year_to: int | None, info: ValidationInfo) -> int | None:
        year_from = info.data.get("year_from")
        if year_to is not None and year_from is not None and year_from > year_to:
            raise ValueError(f"year_to ({year_to}) is before year_from ({year_from})")
        return year_to

    @field_validator("episodes_max")
    @classmethod
    def _episode_range(cls, episodes_max: int | None, info: ValidationInfo) -> int | None:
        episodes_min = info.data.get("episodes_min")
        if episodes_max is not None and episodes_min is not None and episodes_min > episodes_max:
            raise ValueError(f"episodes_max ({episodes_max}) is below episodes_min ({episodes_min})")
        return episodes_max


class Pagination(BaseModel):
    """``limit`` results from ``page`` (1-based) or from an opaque ``cursor`` (not both).

    The cursor comes from the previous result's ``next_cursor`` and is only valid for
    the same search; it makes every page cost the same, however deep.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Results per page (1-100).")
    page: int | None = Field(
        default=None,
        ge=1,
        le=MAX_PAGE,
        description="Page number (1-based; default 1); `page * limit` at most 10000, use `cursor` beyond.",
    )
    cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CURSOR_CHARS,
        description="`next_cursor` of the previous page, instead of `page`.",
    )

    @field_validator("page")
    @classmethod
    def _within_window(cls, page: int | None, info: ValidationInfo) -> int | None:
        limit = info.data.get("limit")
        if page is not None and isinstance(limit, int) and page * limit > MAX_PAGED_RESULTS:
            raise ValueError(
                f"page {page} of {limit} goes past result {MAX_PAGED_RESULTS}; follow next_cursor instead"
            )
        return page

    @field_validator("cursor")
    @classmethod
    def _page_or_cursor(cls, cursor: str | None, info: ValidationInfo) -> str | None:
        if cursor is not None and info.data.get("page") is not None:
            raise ValueError("give page or cursor, not both")
        return cursor

    @property
    def offset(self) -> int:
        return ((self.page or 1) - 1) * self.limit
