"""Dev-only test support, loaded as a pytest plugin by every suite: isolated databases, the
real services in-process and as subprocesses (one launcher for any set of them), free ports,
and `eventually` for waiting on state. It imports every process, so it is not a library:
nothing under libs/ may import it."""
