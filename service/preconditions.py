"""Entity tags and RFC 9110 conditional requests (If-Match, If-None-Match).

Each representation of a version has its own strong tag: `"7"` for JSON, `"7-mermaid"` for
Mermaid, `"7-reactflow"` for React Flow's document, and a compressed body adds its content
coding (`"7-gzip"`, `"7-mermaid-gzip"`).
"""

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Representation(Enum):
    """The representations of a version, by their entity-tag suffix (JSON has none)."""

    JSON = ""
    MERMAID = "mermaid"
    REACTFLOW = "reactflow"


CONTENT_CODINGS = ("gzip",)
MAX_VERSION_DIGITS = 9  # PostgreSQL's INTEGER version
OPAQUE_TAG = re.compile(
    rf"(\d{{1,{MAX_VERSION_DIGITS}}})"
    rf"(?:-({'|'.join(r.value for r in Representation if r.value)}))?"
    rf"(?:-({'|'.join(CONTENT_CODINGS)}))?"
)
# RFC 9110 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text
ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


def etag(
    version: int, representation: Representation = Representation.JSON, coding: str | None = None
) -> str:
    """The strong entity tag of a representation of a version, optionally content-coded."""
    suffixes = [suffix for suffix in (representation.value, coding) if suffix]
    return '"' + "-".join([str(version), *suffixes]) + '"'


def coded(tag: str, coding: str) -> str:
    """A strong tag of ours for the same representation with a content coding applied."""
    return tag[:-1] + f'-{coding}"'


@dataclass(frozen=True)
class EntityTag:
    """One entity tag of ours: the version, representation and coding it names."""

    version: int
    representation: Representation
    coding: str | None
    weak: bool


def list_elements(header: str) -> list[str]:
    """The comma-separated elements of a list header; commas inside quotes do not split."""
    elements, start, quoted = [], 0, False
    for index, char in enumerate(header):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            elements.append(header[start:index])
            start = index + 1
    elements.append(header[start:])
    return [element.strip() for element in elements if element.strip()]


def parse_tag(element: str) -> EntityTag | None:
    """An entity tag of ours, or None for a malformed or foreign one (it matches nothing)."""
    syntax = ENTITY_TAG.fullmatch(element)
    if syntax is None:
        return None
    opaque = OPAQUE_TAG.fullmatch(syntax.group(2))
    if opaque is None:
        return None
    version, representation, coding = opaque.groups()
    return EntityTag(int(version), Representation(representation or ""), coding, bool(syntax[1]))


@dataclass(frozen=True)
class EntityTags:
    """A parsed If-Match or If-None-Match value: `*`, or the tags of ours it lists."""

    any: bool
    tags: tuple[EntityTag, ...]

    @classmethod
    def parse(cls, header: str) -> "EntityTags":
        """Parse a field value (repeated lines already joined with commas, RFC 9110 5.3)."""
        elements = list_elements(header)
        if elements == ["*"]:
            return cls(any=True, tags=())
        tags = (parse_tag(element) for element in elements)
        return cls(any=False, tags=tuple(tag for tag in tags if tag is not None))

    def strong_versions(self) -> frozenset[int]:
        """Versions named by strong tags of any representation (If-Match's comparison)."""
        return frozenset(tag.version for tag in self.tags if not tag.weak)

    def versions(self) -> frozenset[int]:
        """Versions named by any tag, weak or strong (If-None-Match's weak comparison)."""
        return frozenset(tag.version for tag in self.tags)

    def names(self, version: int, representation: Representation) -> bool:
        """Whether a tag names this representation of the version, in any coding (or `*`)."""
        return self.any or any(
            tag.version == version and tag.representation is representation for tag in self.tags
        )

    def names_coded(self, tag: str, coding: str) -> bool:
        """Whether a tag names the coded variant of `tag` (weak comparison)."""
        wanted = parse_tag(coded(tag, coding))
        return wanted is not None and any(
            (t.version, t.representation, t.coding)
            == (wanted.version, wanted.representation, wanted.coding)
            for t in self.tags
        )


@dataclass(frozen=True)
class Precondition:
    """The versions a write may apply to: what If-Match allows less what If-None-Match refuses.

    `allowed` is None for If-Match `*` (or no If-Match when it is optional); If-None-Match `*`
    allows no version at all, since a write always targets a resource that exists.
    """

    allowed: frozenset[int] | None
    refused: frozenset[int] = frozenset()

    @classmethod
    def from_headers(cls, if_match: str | None, if_none_match: str | None) -> "Precondition":
        """Evaluate If-Match by strong and If-None-Match by weak comparison (RFC 9110 13.1)."""
        allowed = None
        if if_match is not None:
            match = EntityTags.parse(if_match)
            allowed = None if match.any else match.strong_versions()
        if if_none_match is None:
            return cls(allowed)
        none_match = EntityTags.parse(if_none_match)
        if none_match.any:
            return cls(frozenset())
        return cls(allowed, none_match.versions())

    def matches(self, version: int) -> bool:
        """Whether a resource at `version` satisfies the precondition."""
        return (self.allowed is None or version in self.allowed) and version not in self.refused

    def sql_params(self) -> dict[str, Any]:
        """The `versions` and `refused_versions` parameters of a conditional statement."""
        versions = None if self.allowed is None else sorted(self.allowed)
        return {"versions": versions, "refused_versions": sorted(self.refused)}


def revision_etag(number: int) -> str:
    """The strong, never-changing entity tag of a revision: `"r<number>"`."""
    return f'"r{number}"'


def names_revision(header: str | None, number: int) -> bool:
    """Whether If-None-Match names the revision's tag, weakly compared (RFC 9110 13.1.2)."""
    if header is None:
        return False
    wanted = revision_etag(number)
    elements = list_elements(header)
    return elements == ["*"] or any(element.removeprefix("W/") == wanted for element in elements)


ANY_VERSION: dict[str, Any] = {"versions": None, "refused_versions": []}


def precondition_params(precondition: Precondition | None) -> dict[str, Any]:
    """The statement parameters of a precondition; None allows any version."""
    return ANY_VERSION if precondition is None else precondition.sql_params()


def none_match(
    header: str | None, version: int, representation: Representation = Representation.JSON
) -> bool:
    """Whether If-None-Match names this representation of the version (GET may answer 304)."""
    return header is not None and EntityTags.parse(header).names(version, representation)
