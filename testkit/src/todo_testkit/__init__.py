"""Dev-only test support, loaded as a pytest plugin by every suite: isolated databases and the
real services, in-process and as subprocesses. It imports every process, so it is not a
library: nothing under libs/ may import it."""
