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


def test_forms_derived_from_a_kept_body_are_kept_with_it() -> None:
    cache = RenderedGraphs(max_bytes=100)
    workflow_id = uuid.uuid4()
    body = b"rendering"
    cache.put(workflow_id, 1, body)
    flow = b"reactflow"
    cache.keep_form(body, "reactflow", flow)
    cache.keep_compressed(flow, b"packed")
    assert cache.form(body, "reactflow") is flow
    assert cache.compressed(flow) == b"packed"  # a form of a form
    assert cache.compressed(body) is None  # the rendering's own gzip form is another one
    assert cache.size == len(body) + len(flow) + len(b"packed")
    cache.put(workflow_id, 2, b"next")
    assert cache.form(body, "reactflow") is None
    assert cache.compressed(flow) is None
    assert cache.size == len(b"next")


def test_forms_of_bodies_that_are_not_kept_are_not_kept() -> None:
    cache = RenderedGraphs(max_bytes=100)
    cache.keep_form(b"stray", "reactflow", b"flow")
    assert cache.size == 0
    assert cache.form(b"stray", "reactflow") is None


def test_forms_count_in_the_budget() -> None:
    cache = RenderedGraphs(max_bytes=10)
    first, second = uuid.uuid4(), uuid.uuid4()
    second_body = b"bbbb"
    cache.put(first, 1, b"aaaa")
    cache.put(second, 1, second_body)
    cache.keep_form(second_body, "reactflow", b"ccc")
    assert cache.get(first, 1) is None  # the oldest went to make room
    assert cache.form(second_body, "reactflow") == b"ccc"
    assert cache.size == 7
