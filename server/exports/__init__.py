"""Standard formats other systems read, built from the same queries as the API."""
