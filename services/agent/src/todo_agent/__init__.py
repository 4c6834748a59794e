"""The agent service: an Agents SDK assistant whose tools call the tasks service."""
