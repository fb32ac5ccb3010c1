"""Revisions: immutable snapshots of a workflow's definition, their history, and publishing."""
