/**
 * Server-Sent Events over fetch(): the live tail reads GET /api/v1/events/stream with the
 * bearer token in the Authorization header (EventSource cannot send headers, and a token in
 * the URL would end up in logs), so the stream is parsed here, as the WHATWG HTML standard
 * says (§9.2.6 "Interpreting an event stream"): lines end with CRLF, LF or CR; `:` starts a
 * comment; `data` lines join with "\n"; a blank line dispatches; `id` sets the last event id.
 */

export interface SseMessage {
  /** The `event` field; "message" when the server sent none. */
  event: string;
  data: string;
  /** The last event id so far (as a browser would send as Last-Event-ID). */
  lastEventId: string;
  /** Set when this message had an `id` field of its own. */
  id: string | null;
}

/** An incremental parser: push text as it arrives, get the messages it completed. */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private id: string | null = null;
  private lastEventId = "";
  /** A chunk ended in CR: an LF at the start of the next chunk belongs to it. */
  private pendingCr = false;

  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith("\n")) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const messages: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.buffer);
      if (match === null) break;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) {
        this.pendingCr = true;
      }
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  private line(line: string): SseMessage | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) {
          this.id = value;
          this.lastEventId = value;
        }
        break;
      default:
        break; // `retry` and unknown fields: nothing to do for this client
    }
    return null;
  }

  private dispatch(): SseMessage | null {
    const hadData = this.data.length > 0;
    const message: SseMessage = {
      event: this.event || "message",
      data: this.data.join("\n"),
      lastEventId: this.lastEventId,
      id: this.id,
    };
    this.event = "";
    this.data = [];
    this.id = null;
    return hadData ? message : null;
  }
}

/**
 * Read a response body as an event stream until it ends or `signal` aborts; each message
 * goes to `onMessage` as it completes. Resolves when the server ends the stream.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  onMessage: (message: SseMessage) => void,
  signal?: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const message of parser.push(decoder.decode(value, { stream: true }))) {
        onMessage(message);
      }
    }
    // A message the stream ended in the middle of is dropped (as the standard says).
    for (const message of parser.push(decoder.decode())) onMessage(message);
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}
