"""ChatKit at the edge: the request context and the Store on the edge's own tables."""

from todo_edge.chatkit.context import ChatContext
from todo_edge.chatkit.store import TodoChatKitStore

__all__ = ["ChatContext", "TodoChatKitStore"]
