"""From MQTT message to committed reading: `handler` decides, `client` talks to the broker."""
