"""RenderedGraphs: a size-bounded LRU of rendered graph documents keyed by version."""

import uuid

from service.graph.cache import RenderedGraphs


def test_a_kept_document_is_found_by_workflow_and_version() -> None:
    cache = RenderedGraphs(max_bytes=100)
    workflow_id = uuid.uuid4()
    cache.put(workflow_id, 3, b"{}")
    assert cache.get(workflow_id, 3) == b"{}"
    assert cache.get(workflow_id, 4) is None
    assert cache.get(uuid.uuid4(), 3) is None


def test_the_least_recently_used_documents_go_first() -> None:
    cache = RenderedGraphs(max_bytes=10)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.put(first, 1, b"aaaa")
    cache.put(second, 1, b"bbbb")
    cache.get(first, 1)
    cache.put(third, 1, b"cccc")
    assert cache.get(second, 1) is None
    assert cache.get(first, 1) == b"aaaa"
    assert cache.size == 8


def test_a_document_larger_than_the_cache_is_not_kept() -> None:
    cache = RenderedGraphs(max_bytes=3)
    cache.put(uuid.uuid4(), 1, b"toolarge")
    assert cache.size == 0


def test_a_newer_version_replaces_the_older_one() -> None:
    cache = RenderedGraphs(max_bytes=100)
    workflow_id = uuid.uuid4()
    cache.put(workflow_id, 1, b"old")
    cache.put(workflow_id, 2, b"newer")
    assert cache.get(workflow_id, 1) is None
    assert cache.get(workflow_id, 2) == b"newer"
    assert cache.size == len(b"newer")


def test_an_older_version_never_replaces_a_newer_one() -> None:
    cache = RenderedGraphs(max_bytes=100)
    workflow_id = uuid.uuid4()
    cache.put(workflow_id, 5, b"five")
    cache.put(workflow_id, 4, b"four")
    assert cache.get(workflow_id, 5) == b"five"
    assert cache.size == 4
