// Server-Sent Events from a fetch() response body. The ChatKit protocol sends each event as
// `data: <json>\n\n` (no event names, no [DONE]; the stream ends when the body ends); lines
// starting with `:` are keep-alive comments.

/**
 * Yields the parsed JSON of every event in the response body. Throws on malformed JSON.
 * Aborting the request (AbortController) makes the read reject with an AbortError.
 */
export async function* readEvents(response) {
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
        const event = parseFrame(frame);
        if (event !== null) yield event;
      }
    }
    buffer += decoder.decode();
    const last = parseFrame(buffer.trim());
    if (last !== null) yield last;
  } finally {
    reader.releaseLock?.();
  }
}

function parseFrame(frame) {
  if (!frame) return null;
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue; // comment (heartbeat)
    if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
  }
  if (!data.length) return null;
  return JSON.parse(data.join("\n"));
}
