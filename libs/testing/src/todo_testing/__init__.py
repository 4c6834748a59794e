"""Test support shared by every suite (loaded as a pytest plugin): databases, ports, services."""
