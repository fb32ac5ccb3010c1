"""workflow-service: stores DAG workflow definitions for a visual workflow editor."""
