"""Prometheus scrape endpoint (left out of the OpenAPI schema)."""

from fastapi import APIRouter, Request, Response

from service.observability import ServiceMetrics

router = APIRouter(tags=["observability"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The metrics of this process (or of every worker, in Prometheus multiprocess mode)."""
    service_metrics: ServiceMetrics = request.app.state.metrics
    body, content_type = service_metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)
