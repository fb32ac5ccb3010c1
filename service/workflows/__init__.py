"""Workflows: model, data access and routes."""
