// Tasks as chat entities, for both chat clients: @-mention search over the person's tasks
// (GET /api/tasks?query=), a small preview card, and the models a message may pick
// (GET /api/chat/models). A tagged task travels as `input_tag` content with data.type "task";
// the edge checks it is the person's own before the assistant sees its id.

export const TASK_ENTITY = "task";
const SEARCH_LIMIT = 8;

/** The person's tasks matching `query`, as ChatKit entities (open ones first). */
export async function searchTaskEntities(session, query) {
  const params = new URLSearchParams({ page_size: String(SEARCH_LIMIT), state: "open" });
  const text = String(query || "").trim();
  if (text) params.set("query", text);
  try {
    const { body } = await session.json(`/api/tasks?${params}`);
    return (body.tasks || []).map(taskEntity);
  } catch {
    return [];
  }
}

/** A task as a ChatKit entity. */
export function taskEntity(task) {
  return {
    id: task.id,
    title: task.title,
    group: "Tasks",
    interactive: true,
    data: { type: TASK_ENTITY },
  };
}

/** The preview card of a task entity (null when it is not the person's task any more). */
export async function taskPreview(session, entity) {
  if (entity?.data?.type !== TASK_ENTITY) return { preview: null };
  try {
    const { body: task } = await session.json(`/api/tasks/${encodeURIComponent(entity.id)}`);
    const details = [];
    if (task.due_time) details.push(`Due ${new Date(task.due_time).toLocaleString()}`);
    if (task.priority) details.push(`${task.priority[0].toUpperCase()}${task.priority.slice(1)} priority`);
    if (task.tags?.length) details.push(task.tags.map((tag) => `#${tag}`).join(" "));
    details.push(task.state === "completed" ? "Done" : "Open");
    return {
      preview: {
        type: "Card",
        size: "sm",
        children: [
          { type: "Title", value: task.title, size: "sm" },
          { type: "Text", value: details.join(" · "), size: "sm", color: "secondary" },
        ],
      },
    };
  } catch {
    return { preview: null };
  }
}

/** The models a message may pick ([] when they cannot be read: the default then answers). */
export async function fetchChatModels(session) {
  try {
    const { body } = await session.json("/api/chat/models");
    return (body.models || []).map((model) => ({
      id: model.id,
      label: model.label,
      description: model.description || undefined,
      default: Boolean(model.default),
    }));
  } catch {
    return [];
  }
}
