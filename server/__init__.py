"""Shelter Signal server: MQTT ingestor, REST API and the map, on SQLModel."""
