"""A workflow's nodes: model, data access and routes."""
