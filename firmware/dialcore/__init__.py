"""Hardware-free heart of the Shelter Signal dial.

Runs unchanged on the ESP32 (MicroPython), under the MicroPython interpreter in tests
and under CPython in the host simulator and the server's web dial. Only the standard
subset both interpreters share is used here: no typing, no dataclasses.
"""

FIRMWARE_VERSION = "0.1.0"
