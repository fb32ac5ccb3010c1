"""Tests of service.workflows."""
