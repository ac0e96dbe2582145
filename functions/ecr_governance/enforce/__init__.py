"""Enforcement: every repository keeps tag immutability, scan on push and a lifecycle policy."""
