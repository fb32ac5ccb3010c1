"""A workflow's edges: model, data access and routes."""
