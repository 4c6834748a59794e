"""The HTTP edge: REST API and ChatKit over the gRPC services."""
