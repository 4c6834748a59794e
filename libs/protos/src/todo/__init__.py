"""Generated protobuf and gRPC code for the Todo Assistant APIs (see protos/)."""
