// paycode bridge client: one ES module, no build step, no dependencies (browsers; Node 22 or later).
//
//   import { Paycode } from "http://127.0.0.1:8350/v1/client.js";
//   const pc = new Paycode("http://127.0.0.1:8350", token);
//   const p = await pc.pay({ amount: "12.50", currency: "CNY" });
//   p.on("event", (e) => console.log(e.event));
//   p.on("update", (payment) => console.log(payment.state));
//   await p.cancel();            // or: const final = await p.done;
//
// The event stream is a WebSocket (with a single-use ticket) opened on first use. When it drops, the client
// reconnects with backoff and resumes after the last event id it saw; when the bridge cannot replay exactly
// (it restarted, or the client fell behind), it fetches the state of every payment it follows. docs/bridge.md.

const FINAL = new Set(["paid", "declined", "closed", "cancelled", "unresolved", "failed"]);
const BACKOFF_FIRST = 250;
const BACKOFF_MAX = 5000;
const RECENT = 500; // events kept for payments whose POST answer has not arrived yet

/** An answer of the bridge that is not a success: status, code, message and field from {"error": {...}}. */
export class PaycodeError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.name = "PaycodeError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

class Emitter {
  constructor() {
    this._handlers = new Map();
  }
  /** Call fn for every `type` event; returns a function that removes it. */
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }
  off(type, fn) {
    const set = this._handlers.get(type);
    if (set) set.delete(fn);
  }
  _emit(type, value) {
    for (const fn of [...(this._handlers.get(type) || [])]) {
      try {
        fn(value);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}

/** One payment followed through the event stream. */
export class Payment extends Emitter {
  constructor(client, data) {
    super();
    this.client = client;
    this.reference = data.reference;
    this.data = data;
    this.done = new Promise((resolve) => {
      this._resolve = resolve;
    });
    if (data.final) this._resolve(data);
  }
  get state() {
    return this.data.state;
  }
  get final() {
    return Boolean(this.data.final);
  }
  _set(data) {
    if (this.data.final && !data.final) return; // an older answer than what the stream said
    const changed = JSON.stringify(data) !== JSON.stringify(this.data);
    this.data = data;
    if (changed) this._emit("update", data);
    if (data.final) this._resolve(data);
  }
  _event(event) {
    this._emit("event", event);
    if (event.event === "payment.updated" && event.payment) this._set(event.payment);
  }
  /** Cancel: at once while waiting for the scan (200), else the close path (202; the final state follows). */
  async cancel() {
    const data = await this.client._call("POST", `/v1/payments/${encodeURIComponent(this.reference)}/cancel`);
    this._set(data);
    return data;
  }
  /** Refund part or all of the paid amount: {amount: "2.50", currency?}. */
  async refund({ amount, currency } = {}) {
    const body = currency === undefined ? { amount } : { amount, currency };
    const refund = await this.client._call(
      "POST",
      `/v1/payments/${encodeURIComponent(this.reference)}/refunds`,
      body,
    );
    await this.refresh();
    return refund;
  }
  /** GET the payment again. */
  async refresh() {
    const data = await this.client.get(this.reference);
    this._set(data);
    return data;
  }
}

function newKey() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

/** A client for one bridge. */
export class Paycode extends Emitter {
  constructor(url, token, options = {}) {
    super();
    this.url = String(url).replace(/\/+$/, "");
    this.token = token;
    this.lane = options.lane;
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    this._fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this._payments = new Map();
    this._recent = [];
    this._ws = null;
    this._opening = null;
    this._closed = false;
    this._backoff = BACKOFF_FIRST;
    this._timer = null;
    /** the id of the last event received: the stream resumes after it */
    this.lastEventId = null;
    /** true while the event stream is open */
    this.connected = false;
  }

  async _call(method, path, body, headers = {}) {
    const init = { method, headers: { Authorization: `Bearer ${this.token}`, ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let answer;
    try {
      answer = await this._fetch(this.url + path, init);
    } catch (err) {
      throw new PaycodeError(0, "unreachable", `the bridge at ${this.url} cannot be reached: ${err.message || err}`);
    }
    const text = await answer.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!answer.ok) {
      const e = (data && data.error) || {};
      throw new PaycodeError(answer.status, e.code || "http_error", e.message || `HTTP ${answer.status}`, e.field ?? null);
    }
    return data;
  }

  /** Start a payment: {amount, currency, reference?, code?, lane?, idempotencyKey?}; resolves to a Payment. */
  async pay({ amount, currency, reference, code, lane, idempotencyKey } = {}) {
    await this.connect(); // the stream is open before the payment starts: no event is missed
    const body = { amount, currency };
    if (reference !== undefined) body.reference = reference;
    if (code !== undefined) body.code = code;
    if ((lane ?? this.lane) !== undefined) body.lane = lane ?? this.lane;
    const data = await this._call("POST", "/v1/payments", body, { "Idempotency-Key": idempotencyKey || newKey() });
    return this._track(data);
  }

  /** A handle for an existing payment (after a reload); its state is fetched. */
  async payment(reference) {
    await this.connect().catch(() => undefined);
    const known = this._payments.get(reference);
    if (known) return known;
    return this._track(await this.get(reference));
  }

  get(reference) {
    return this._call("GET", `/v1/payments/${encodeURIComponent(reference)}`);
  }

  async list({ since, status, lane, limit } = {}) {
    const q = new URLSearchParams();
    if (since !== undefined) q.set("since", since instanceof Date ? since.toISOString() : String(since));
    if (status !== undefined) q.set("status", status);
    if (lane !== undefined) q.set("lane", lane);
    if (limit !== undefined) q.set("limit", String(limit));
    const query = q.toString();
    return (await this._call("GET", `/v1/payments${query ? `?${query}` : ""}`)).payments;
  }

  async lanes() {
    return (await this._call("GET", "/v1/lanes")).lanes;
  }

  _track(data) {
    let p = this._payments.get(data.reference);
    if (p) {
      p._set(data);
      return p;
    }
    p = new Payment(this, data);
    this._payments.set(data.reference, p);
    for (const event of this._recent) if (event.order === data.reference) p._event(event);
    return p;
  }

  /** Open the event stream (resolves once it is open); it stays open and reconnects until close(). */
  connect() {
    this._closed = false;
    if (this.connected) return Promise.resolve();
    if (!this._opening) {
      this._opening = this._open().finally(() => {
        this._opening = null;
      });
    }
    return this._opening;
  }

  async _open() {
    const { ticket } = await this._call("POST", "/v1/tickets", {});
    const q = new URLSearchParams({ ticket });
    if (this.lastEventId) q.set("last_event_id", this.lastEventId);
    const url = `${this.url.replace(/^http/, "ws")}/v1/events?${q}`;
    await new Promise((resolve, reject) => {
      const ws = new this._WebSocket(url);
      this._ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.connected = true;
        this._backoff = BACKOFF_FIRST;
        this._emit("connected", { lastEventId: this.lastEventId });
        resolve();
      };
      ws.onmessage = (message) => this._receive(message.data);
      ws.onerror = () => undefined; // onclose follows
      ws.onclose = (close) => {
        if (this._ws === ws) this._ws = null;
        const was = this.connected;
        this.connected = false;
        if (was) this._emit("disconnected", { code: close.code, reason: close.reason });
        if (!opened) reject(new PaycodeError(0, "stream_refused", `the event stream closed (${close.code})`));
        this._reconnectLater();
      };
    });
  }

  _reconnectLater() {
    if (this._closed || this._timer) return;
    const delay = this._backoff;
    this._backoff = Math.min(this._backoff * 2, BACKOFF_MAX);
    this._timer = setTimeout(() => {
      this._timer = null;
      if (this._closed || this.connected) return;
      this.connect().catch(() => this._reconnectLater());
    }, delay);
  }

  _receive(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (event.id) this.lastEventId = event.id;
    this._recent.push(event);
    if (this._recent.length > RECENT) this._recent.shift();
    if (event.event === "stream.reset" || event.event === "stream.gap") {
      for (const p of this._payments.values()) if (!p.final) p.refresh().catch(() => undefined);
    }
    const p = event.order ? this._payments.get(event.order) : undefined;
    if (p) p._event(event);
    this._emit("event", event);
  }

  /** Close the event stream and stop reconnecting. */
  close() {
    this._closed = true;
    if (this._timer) clearTimeout(this._timer);
    this._timer = null;
    if (this._ws) this._ws.close(1000, "client closed");
  }
}

export const FINAL_STATES = FINAL;
export default Paycode;
