"""The change log: one entry per version step of a workflow, and what it touched."""
