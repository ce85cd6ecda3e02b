// The connection to the server: the cybermarket protocol over WebSocket,
// one JSON text message per request, answered in order.  It reconnects by
// itself with backoff and, where the server speaks protocol 1.1, resumes
// the login with the token kept in localStorage, which every tab of the
// origin shares: a product opened in a new tab is still logged in, and a
// logout in one tab logs every tab out (a shared computer).

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];

import { language } from "./i18n.js";

// An answer of status 400 or more.  What happened is decided from `status`
// and protocol 1.2's `error.code` with its keys (kept in `error`), never
// from `message`, which is for people and may be reworded or translated.
// A server before 1.2 sends no `error`: `code` is then "".
export class ServerError extends Error {
  constructor(op, response) {
    super(response.message);
    this.op = op;
    this.status = response.status;
    /** @type {Record<string, any>} */
    this.error = response.error && typeof response.error === "object" ? response.error : {};
    /** @type {string} */
    this.code = typeof this.error.code === "string" ? this.error.code : "";
  }

  // The argument the answer is about (invalid_argument's and name_taken's
  // `field`), or null.
  get argument() {
    return typeof this.error.field === "string" ? this.error.field : null;
  }
}

export class Market extends EventTarget {
  // tokenKey: where this page keeps its session token (one per role);
  // logoutOp: the role's logout, for when another tab logs out.
  constructor(tokenKey, logoutOp) {
    super();
    this.tokenKey = tokenKey;
    this.logoutOp = logoutOp;
    this.nextId = 1;
    this.pending = new Map();
    this.socket = null;
    this.attempt = 0;
    this.protocol = "1.0";
    this.account = null; // {role, name} while logged in
    this.waiters = [];
    this.everOpen = false;
    // Another tab logged in or out, or changed the password: this one
    // follows (the event never fires in the tab that wrote).
    window.addEventListener("storage", (event) => {
      if (event.key === this.tokenKey || event.key === null) this.elsewhere();
    });
  }

  get url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws`;
  }

  get features() {
    const v11 = this.protocol === "1.1" || Number.parseFloat(this.protocol) >= 1.1;
    return { search: v11, resume: v11 };
  }

  start() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => this.opened(socket));
    socket.addEventListener("message", (event) => this.received(event.data));
    socket.addEventListener("close", () => this.closed(socket));
  }

  async opened(socket) {
    this.attempt = 0;
    try {
      const ping = await this.send("PING");
      this.protocol = (ping && ping.protocol) || "1.0";
      // The server's messages in the page's language.
      await this.send("SET_LANGUAGE", { language });
      await this.resume();
    } catch {
      // A failed resume only means logging in again.
    }
    if (this.socket !== socket) return;
    const first = !this.everOpen;
    this.everOpen = true;
    this.emit("connected", { first });
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async resume() {
    const token = localStorage.getItem(this.tokenKey);
    const before = this.account;
    this.account = null;
    if (!token || !this.features.resume) {
      if (before) this.emit("account", null);
      return;
    }
    try {
      this.account = await this.send("RESUME", { token });
    } catch (error) {
      // An unknown, expired or revoked token (a server before 1.2: any 401).
      if (error.code === "bad_credentials" || (!error.code && error.status === 401)) localStorage.removeItem(this.tokenKey);
    }
    this.emit("account", this.account);
  }

  // The token changed in another tab.  This connection's login ends (the
  // server keeps it per connection), then the token now kept, if any, is
  // resumed; the page hears "account" and then "elsewhere", to show it.
  async elsewhere() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.everOpen) {
      if (this.account) await this.send(this.logoutOp).catch(() => {});
      await this.resume().catch(() => {});
    } else if (this.account && !localStorage.getItem(this.tokenKey)) {
      // Not connected: the reconnect resumes whatever is kept by then.
      this.account = null;
      this.emit("account", null);
    }
    this.emit("elsewhere", this.account);
  }

  closed(socket) {
    if (this.socket !== socket) return;
    this.socket = null;
    for (const { reject, op } of this.pending.values()) {
      reject(new ServerError(op, { status: 0, message: "connection lost" }));
    }
    this.pending.clear();
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.emit("disconnected", { delay });
    setTimeout(() => this.start(), delay * (0.75 + Math.random() / 2));
  }

  received(text) {
    let response;
    try {
      response = JSON.parse(text);
    } catch {
      return;
    }
    const waiting = this.pending.get(response.id);
    if (!waiting) return;
    this.pending.delete(response.id);
    if (response.status === 200 || response.status === 201) {
      waiting.resolve(response.data);
    } else {
      waiting.reject(new ServerError(waiting.op, response));
    }
  }

  // One request on the open socket; resolves with its data.
  send(op, args = {}) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, op });
      this.socket.send(JSON.stringify({ id, op, args }));
    });
  }

  ready() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.everOpen) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      setTimeout(() => reject(new ServerError("", { status: 0, message: "not connected" })), 15000);
    });
  }

  // A request, once connected; rejects with a ServerError.
  async call(op, args = {}) {
    await this.ready();
    return this.send(op, args);
  }

  // The account's name is the server's, not the login as typed (an email
  // address, or the name in other capitals): GET_ACCOUNT's (protocol 1.2)
  // on this connection, or from a server without it, RESUME's.
  async login(op, role, login, password) {
    const data = await this.call(op, { login, password });
    this.keepToken(data);
    let name = await this.send("GET_ACCOUNT").then(
      (me) => me.name,
      () => null,
    );
    if (!name && this.features.resume && data && data.token) name = await this.nameOf(data.token);
    this.account = { role, name: name || login };
    this.emit("account", this.account);
  }

  // RESUME's answer for a token, on a connection of its own, closed at
  // once (this one is logged in already, and a RESUME here would be 400);
  // null when it cannot be had.
  /** @param {string} token */
  nameOf(token) {
    return new Promise((resolve) => {
      const socket = new WebSocket(this.url);
      const done = (name) => {
        resolve(name);
        socket.close();
      };
      socket.addEventListener("open", () => socket.send(JSON.stringify({ id: 1, op: "RESUME", args: { token } })));
      socket.addEventListener("message", (event) => {
        try {
          const response = JSON.parse(event.data);
          done(response.status === 200 ? response.data.name : null);
        } catch {
          done(null);
        }
      });
      socket.addEventListener("error", () => done(null));
      setTimeout(() => done(null), 5000);
    });
  }

  keepToken(data) {
    if (data && typeof data.token === "string") {
      localStorage.setItem(this.tokenKey, data.token);
    }
  }

  async logout(op) {
    try {
      await this.call(op);
    } finally {
      localStorage.removeItem(this.tokenKey);
      this.account = null;
      this.emit("account", null);
    }
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
