"""Entity tags and RFC 9110 conditional requests (If-Match, If-None-Match)."""

import re
from dataclasses import dataclass

ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')


def etag(version: int) -> str:
    """The strong entity tag of a version."""
    return f'"{version}"'


def strong_versions(header: str) -> tuple[int, ...] | None:
    """Versions named by strong tags in an entity-tag list; None for `*`."""
    if header.strip() == "*":
        return None
    versions = []
    for weak, opaque in ENTITY_TAG.findall(header):
        if not weak and opaque.isdigit() and len(opaque) < 10:
            versions.append(int(opaque))
    return tuple(versions)


@dataclass(frozen=True)
class Precondition:
    """What If-Match allows: any current version (`*`) or one of the listed ones."""

    versions: tuple[int, ...] | None

    @classmethod
    def from_header(cls, header: str) -> "Precondition":
        """Parse an If-Match value; weak tags never match (strong comparison)."""
        return cls(strong_versions(header))

    def matches(self, version: int) -> bool:
        """Whether a resource at `version` satisfies the precondition."""
        return self.versions is None or version in self.versions

    def sql_versions(self) -> list[int] | None:
        """The versions as a query parameter (None: any version)."""
        return None if self.versions is None else list(self.versions)


def revision_etag(number: int) -> str:
    """The strong, never-changing entity tag of a revision: `"r<number>"`."""
    return f'"r{number}"'


def none_match(header: str | None, version: int | str) -> bool:
    """Whether If-None-Match names the current version (or tag text), so GET may answer 304."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    # If-None-Match uses weak comparison (RFC 9110 13.1.2).
    return any(opaque == str(version) for _weak, opaque in ENTITY_TAG.findall(header))
