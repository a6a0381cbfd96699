// Server-sent events over fetch(): EventSource cannot send an Authorization header, and the
// token must not go into the URL. The parser follows the SSE rules the gateway needs:
// "event:" and "data:" lines, several data lines joined by "\n", a blank line ends an event,
// lines starting with ":" are comments (keep-alives).
import { AuthError, authHeaders } from "./api.js";

export function parseBlock(lines) {
  let type = "message";
  const data = [];
  for (const line of lines) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { type, data: data.join("\n") } : null;
}

// Splits a growing text buffer into complete events; returns the events and the unfinished tail.
export function splitEvents(buffer) {
  const events = [];
  // Split on "\n" only and drop a trailing "\r": a "\r\n" cut between two chunks must not
  // read as an empty line (which would end the event early).
  const lines = buffer.split("\n").map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  const tail = lines.pop();
  let block = [];
  for (const line of lines) {
    if (line === "") {
      const event = parseBlock(block);
      if (event) events.push(event);
      block = [];
    } else {
      block.push(line);
    }
  }
  // The unfinished event's lines stay in the buffer until its blank line arrives.
  const rest = block.length ? `${block.join("\n")}\n${tail}` : tail;
  return { events, rest };
}

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];

export class LiveStream {
  constructor(url, { onEvent, onState, onAuthError }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onAuthError = onAuthError;
    this.attempt = 0;
    this.controller = null;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.onState("reconnecting", this.attempt === 0 ? "connecting" : "reconnecting");
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller?.abort();
  }

  async connect() {
    this.controller = new AbortController();
    try {
      const response = await fetch(this.url, {
        headers: authHeaders({ Accept: "text/event-stream" }),
        cache: "no-store",
        signal: this.controller.signal,
      });
      if (response.status === 401 || response.status === 403) {
        this.stopped = true;
        this.onAuthError(new AuthError(response.status, response.statusText));
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      await this.read(response.body);
    } catch (error) {
      if (this.stopped) return;
      console.info("live stream interrupted:", error.message ?? error);
    }
    this.retry();
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const { events, rest } = splitEvents(buffer);
      buffer = rest;
      for (const event of events) this.dispatch(event);
    }
  }

  dispatch(event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      console.warn("live stream: event", event.type, "is not JSON");
      return;
    }
    // A good event proves the connection works: the next failure starts the backoff afresh.
    this.attempt = 0;
    this.onState("live");
    this.onEvent(event.type, data);
  }

  retry() {
    if (this.stopped) return;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.onState("reconnecting", "reconnecting");
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
