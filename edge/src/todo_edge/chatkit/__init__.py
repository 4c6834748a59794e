"""ChatKit at the edge: the SDK's `ChatKitServer` over the agent service (`server`), the Store
on the edge's own tables (`store`, `models`, `read_cache`), the request context (`context`),
the checks on what a client sends (`requests`), the SSE transport (`transport`), and how agent
events, task cards and their buttons become ChatKit items (`events`, `history`, `widgets`,
`actions`). The `/chatkit` route itself is `todo_edge.api.chatkit`."""

from todo_edge.chatkit.context import ChatContext
from todo_edge.chatkit.store import TodoChatKitStore

__all__ = ["ChatContext", "TodoChatKitStore"]
