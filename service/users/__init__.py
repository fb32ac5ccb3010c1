"""Users known to the service (the token's subject)."""
