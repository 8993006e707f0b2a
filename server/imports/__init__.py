"""Bootstrapping sites and programs from the data cities already publish."""
