"""Live events: the change log streamed as Server-Sent Events, across replicas via LISTEN."""
