"""Tests of service.registry."""
