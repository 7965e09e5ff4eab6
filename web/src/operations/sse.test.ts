import { describe, expect, it } from "vitest";
import { readEventStream, SseParser, type SseMessage } from "./sse";

describe("SseParser", () => {
  it("dispatches a message at a blank line, with its event name, id and data", () => {
    const parser = new SseParser();
    expect(parser.push('event: event\nid: 42\ndata: {"a":1}\n')).toEqual([]);
    expect(parser.push("\n")).toEqual([{ event: "event", data: '{"a":1}', id: "42", lastEventId: "42" }]);
  });

  it("joins data lines, skips comments and unknown fields, defaults the event name", () => {
    const parser = new SseParser();
    const got = parser.push(": keep-alive\nretry: 10\nfoo: bar\ndata: one\ndata:two\n\n");
    expect(got).toEqual([{ event: "message", data: "one\ntwo", id: null, lastEventId: "" }]);
  });

  it("takes CRLF, LF and CR line ends, split anywhere across chunks", () => {
    const text = "event: ready\r\ndata: {}\r\n\r\nevent: heartbeat\rdata: 1\r\rdata: 2\n\n";
    const whole = new SseParser().push(text);
    expect(whole.map((m) => [m.event, m.data])).toEqual([
      ["ready", "{}"],
      ["heartbeat", "1"],
      ["message", "2"],
    ]);
    for (let cut = 1; cut < text.length; cut += 1) {
      const parser = new SseParser();
      const got = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      expect(got.map((m) => [m.event, m.data]), `cut at ${cut}`).toEqual(whole.map((m) => [m.event, m.data]));
    }
  });

  it("keeps the last event id for later messages, and drops a message without data", () => {
    const parser = new SseParser();
    const got = parser.push("id: 7\ndata: a\n\nevent: nothing\n\ndata: b\n\n");
    expect(got).toEqual([
      { event: "message", data: "a", id: "7", lastEventId: "7" },
      { event: "message", data: "b", id: null, lastEventId: "7" },
    ]);
  });
});

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

describe("readEventStream", () => {
  it("reads messages split across chunks and multi-byte characters, drops an unfinished one", async () => {
    const bytes = new TextEncoder().encode('event: event\ndata: {"text":"设备故障"}\n\nevent: event\ndata: cut');
    const cut = 30; // inside a Chinese character's UTF-8 bytes
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, cut));
        controller.enqueue(bytes.slice(cut));
        controller.close();
      },
    });
    const got: SseMessage[] = [];
    await readEventStream(body, (m) => got.push(m));
    expect(got.map((m) => JSON.parse(m.data) as unknown)).toEqual([{ text: "设备故障" }]);
  });

  it("ends when the signal aborts", async () => {
    const controller = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(stream) {
        stream.enqueue(new TextEncoder().encode("event: ready\ndata: {}\n\n"));
        // never closed: only the abort ends the read
      },
    });
    const got: string[] = [];
    const reading = readEventStream(
      body,
      (m) => {
        got.push(m.event);
        controller.abort();
      },
      controller.signal,
    );
    await reading.catch(() => undefined);
    expect(got).toEqual(["ready"]);
  });

  it("reads a finished stream to its end", async () => {
    const got: string[] = [];
    await readEventStream(streamOf(["data: 1\n\n", "data: 2\n", "\n"]), (m) => got.push(m.data));
    expect(got).toEqual(["1", "2"]);
  });
});
