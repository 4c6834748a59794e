"""todo.tasks.v1.TaskService: every user's tasks, on SQLite or PostgreSQL."""
