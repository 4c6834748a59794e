// Server-Sent Events from a fetch() response body. The ChatKit protocol sends each event as
// `data: <json>\n\n` (no event names, no [DONE]; the stream ends when the body ends); the
// live change feed (/api/events) names its events (`event: ready` / `event: task`) and gives
// each an `id:` to resume from. Lines starting with `:` are keep-alive comments.

/**
 * Yields every frame in the response body as `{ event, id, data }` (`data` parsed as JSON,
 * `event` "message" when unnamed); frames that carry no data (heartbeats) are skipped.
 * Throws on malformed JSON. Aborting the request (AbortController) makes the read reject
 * with an AbortError.
 */
export async function* readFrames(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const parsed = parseFrame(frame);
        if (parsed !== null) yield parsed;
      }
    }
    buffer += decoder.decode();
    const last = parseFrame(buffer.trim());
    if (last !== null) yield last;
  } finally {
    reader.releaseLock?.();
  }
}

/** Yields the parsed JSON of every event in the response body (the ChatKit protocol). */
export async function* readEvents(response) {
  for await (const frame of readFrames(response)) yield frame.data;
}

function parseFrame(frame) {
  if (!frame) return null;
  const data = [];
  let event = "message";
  let id = null;
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue; // comment (heartbeat)
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
    else if (field === "id") id = value;
  }
  if (!data.length) return null;
  return { event, id, data: JSON.parse(data.join("\n")) };
}
