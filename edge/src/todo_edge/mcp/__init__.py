"""The tasks as an MCP server at `/mcp` (Streamable HTTP, the official `mcp` SDK): `tools` holds
the task tools, `endpoint` the bearer-token gate in front of the SDK's session manager and the
OAuth protected-resource metadata that tells a client where tokens come from."""
