"""HTTP routers: auth (`/api/auth`, the JWKS), tasks (`/api/tasks`), operations (liveness,
readiness, metrics), ChatKit (`/chatkit`, `/api/chatkit/session`) and the web page."""
