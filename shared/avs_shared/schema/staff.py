"""Production staff, companies and voice actors of an anime."""

from __future__ import annotations

from pydantic import Field

from avs_shared.schema.common import SchemaModel


class StaffMember(SchemaModel):
    """A person credited on the production (any role).

    Attributes
    ----------
    staff_ids
        Provider name to that provider's person id.
    role
        Provider text, e.g. ``Director`` or ``Animation_Director``.
    birth_date
        Kept as text: providers give full dates, partial dates and ``0001-01-01``.
    """

    name: str
    role: str | None = None
    native_name: str | None = None
    staff_ids: dict[str, int | str] = Field(default_factory=dict)
    image: str | None = None
    primary_occupations: list[str] = Field(default_factory=list)
    years_active: list[int] = Field(default_factory=list)
    alternative_names: list[str] = Field(default_factory=list)
    community_favorites: int | None = None
    gender: str | None = None
    biography: str | None = None
    hometown: str | None = None
    birth_date: str | None = None
    blood_type: str | None = None
    language: str | None = None


class VoiceActorStaff(StaffMember):
    """A voice actor in ``staff_data.voice_actors.<language>``."""

    character_assignments: list[str] = Field(default_factory=list)


class Company(SchemaModel):
    """A studio, producer or licensor (``{name, type, url}``)."""

    name: str
    type: str | None = None
    url: str | None = None


class StaffData(SchemaModel):
    """Who made the anime.

    Attributes
    ----------
    production_staff
        Role group (``directors``, ``music_composers``, any other key) to its members.
    voice_actors
        Language (``japanese``, ...) to its voice actors.
    """

    production_staff: dict[str, list[StaffMember]] = Field(default_factory=dict)
    studios: list[Company] = Field(default_factory=list)
    producers: list[Company] = Field(default_factory=list)
    licensors: list[Company] = Field(default_factory=list)
    voice_actors: dict[str, list[VoiceActorStaff]] = Field(default_factory=dict)
