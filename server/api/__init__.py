"""REST API (/api/v1), the event stream and the map page."""
