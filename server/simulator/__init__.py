"""Simulated dials: the firmware's own application code with a host MQTT transport."""
