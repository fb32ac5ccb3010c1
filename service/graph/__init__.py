"""The workflow graph: nodes, edges, whole-graph reads and saves, and the graph rules."""
