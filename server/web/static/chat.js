// The chat with the customer, and the expert's socket to a request's session, shared by the session
// view (session.js) and the request page. Protocol: server/connect/protocol.py. What anyone wrote
// reaches the page as textContent, never as markup. The request page opens a chat-only socket
// (?mode=chat): it joins nobody to the session, so the request's status stays as it is.
// Test hooks on document.body.dataset: chatState (connecting, there, away, reconnecting, and the
// final signed_out, forbidden, not_found, closed).
"use strict";

const SosqueueChat = (() => {
  // The server's vocabulary (server/web/vocabulary.py), rendered into the page by base.html.
  const vocabulary = JSON.parse(document.querySelector("meta[name='sosqueue-vocabulary']").content);

  // One conversation item: its time (local), who wrote it and the text.
  function item(message) {
    const entry = document.createElement("li");
    entry.className = message.from === "customer" ? "from-customer" : "from-expert";
    const time = document.createElement("time");
    const at = new Date(message.at);
    if (!Number.isNaN(at.getTime())) {
      time.dateTime = at.toISOString();
      time.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
    const name = document.createElement("strong");
    name.className = "name";
    name.textContent = String(message.name || "");
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = String(message.text || "");
    entry.append(time, name, text);
    return entry;
  }

  function add(log, message) {
    log.append(item(message));
    log.scrollTop = log.scrollHeight;
  }

  // The conversation so far (a hello's chat) replaces what the log shows. The server keeps it only while
  // a socket of the request is open: when it has none, what the log shows stays.
  function fill(log, messages) {
    if (!Array.isArray(messages) || !messages.length) return;
    log.replaceChildren(...messages.map(item));
    log.scrollTop = log.scrollHeight;
  }

  // Enter sends, Shift+Enter starts a new line; ``send(text)`` returns false when the text could not be
  // sent, and it then stays in the textarea.
  function bind(form, textarea, send) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = textarea.value.trim();
      if (text && send(text)) textarea.value = "";
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  // The expert's socket to the session of the request ``code`` (``mode``: "chat" for a chat-only one).
  // Its URL carries nothing secret, since access logs keep URLs: its first message, sent as it opens,
  // proves the page's login with the CSRF token.
  function openSocket(code, mode) {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = mode ? `?mode=${encodeURIComponent(mode)}` : "";
    const socket = new WebSocket(`${scheme}://${location.host}/requests/${encodeURIComponent(code)}/session/ws${query}`);
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: vocabulary.message.AUTH, csrf })));
    return socket;
  }

  return { add, fill, bind, openSocket, vocabulary };
})();

// -- the request page's chat -----------------------------------------------------------------------

(() => {
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 30000;

  function start(panel) {
    const MESSAGE = SosqueueChat.vocabulary.message;
    const CLOSE = SosqueueChat.vocabulary.close;
    const FINAL = {
      [CLOSE.NOT_SIGNED_IN]: "signed_out", [CLOSE.FORBIDDEN]: "forbidden", [CLOSE.NOT_FOUND]: "not_found",
      [CLOSE.NOT_OPEN]: "closed",
    };
    const byId = (id) => document.getElementById(id);
    const elements = {
      state: byId("chat-state"), log: byId("chat-log"), form: byId("chat-form"), text: byId("chat-text"),
      send: byId("chat-send"), error: byId("chat-error"),
    };
    // The page reloads itself when the request changes (app.js): a draft survives that.
    const draftKey = `sosqueue-chat-draft:${panel.dataset.code}`;
    let socket = null;
    let delay = RETRY_FIRST_MS;

    function show(state) {
      document.body.dataset.chatState = state;
      elements.state.dataset.state = state;
      const key = state.replace(/_(\w)/g, (whole, letter) => letter.toUpperCase());
      elements.state.textContent = elements.state.dataset[key] || "";
      const open = state === "there" || state === "away";
      elements.text.disabled = !open;
      elements.send.disabled = !open;
    }

    function showError(detail) {
      elements.error.textContent = detail;
      elements.error.hidden = !detail;
    }

    const HANDLERS = {
      [MESSAGE.HELLO](message) {
        delay = RETRY_FIRST_MS;
        SosqueueChat.fill(elements.log, message.chat);
        show(message.customer_connected ? "there" : "away");
      },
      [MESSAGE.CUSTOMER_JOINED]() { show("there"); },
      [MESSAGE.CUSTOMER_LEFT]() { show("away"); },
      [MESSAGE.CHAT](message) {
        showError("");
        SosqueueChat.add(elements.log, message);
      },
      [MESSAGE.ERROR](message) { showError(String(message.detail || "")); },
    };

    function connect() {
      const opened = SosqueueChat.openSocket(panel.dataset.code, panel.dataset.mode);
      socket = opened;
      opened.addEventListener("message", (event) => {
        if (opened !== socket || typeof event.data !== "string") return;
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (error) {
          return;  // the server sends JSON only
        }
        const handler = HANDLERS[message.type];
        if (handler) handler(message);
      });
      opened.addEventListener("close", (event) => {
        if (opened !== socket) return;
        socket = null;
        const final = FINAL[event.code];
        if (final) {
          show(final);
          return;
        }
        show("reconnecting");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      });
    }

    function send(text) {
      if (socket === null || socket.readyState !== WebSocket.OPEN) {
        showError(elements.state.dataset.notSent);
        return false;
      }
      socket.send(JSON.stringify({ type: MESSAGE.CHAT, text }));
      sessionStorage.removeItem(draftKey);
      return true;
    }

    panel.hidden = false;
    elements.text.value = sessionStorage.getItem(draftKey) || "";
    elements.text.addEventListener("input", () => sessionStorage.setItem(draftKey, elements.text.value));
    SosqueueChat.bind(elements.form, elements.text, send);
    show("connecting");
    connect();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const panel = document.getElementById("request-chat");
    if (document.body.dataset.page === "request" && panel) start(panel);
  });
})();
