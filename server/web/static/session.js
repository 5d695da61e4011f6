// The expert's session view: the customer's screen over a WebSocket, drawn frame by frame, and a chat.
// Protocol: server/connect/protocol.py. Everything the customer sends reaches the page as
// textContent or as pixels, never as markup. Test hooks on document.body.dataset:
// sessionState, framesDrawn, lastFrameAt (ms since the epoch, when the last frame was drawn).
// Frames are whole (one JPEG) or regions drawn over the last whole frame (header: vocabulary's regionFrame).
"use strict";

(() => {
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 30000;
  // The server's vocabulary (server/web/vocabulary.py), rendered into the page by base.html.
  const VOCABULARY = JSON.parse(document.querySelector("meta[name='sosqueue-vocabulary']").content);
  const MESSAGE = VOCABULARY.message;
  const CLOSE = VOCABULARY.close;
  const STOP_REASON = VOCABULARY.stopReason;
  const STATUS = VOCABULARY.status;
  // A region frame: magic, then big-endian unsigned two-byte fields, then one JPEG of the region.
  const REGION = VOCABULARY.regionFrame;
  const REGION_MAGIC = Array.from(REGION.magic, (char) => char.charCodeAt(0));
  // Closed for good by the server: trying again cannot help, so say why instead.
  const FINAL_CLOSES = {
    [CLOSE.NOT_SIGNED_IN]: "signedOut", [CLOSE.FORBIDDEN]: "forbidden", [CLOSE.NOT_FOUND]: "notFound",
    [CLOSE.NOT_OPEN]: "closed",
  };
  const FINAL_STATES = { signedOut: "signed_out", forbidden: "forbidden", notFound: "not_found", closed: "closed" };
  // States in which the customer is connected, not sharing, and may be asked (again).
  const ASKABLE = new Set(["denied", "stopped", "ready", "ended"]);

  const view = {
    socket: null,
    wantView: true,        // ask the customer whenever they are there and not sharing
    customer: false,
    sharing: false,
    ending: false,         // this page sent "end" and waits for the session_ended
    left: false,           // this page ended the session: out of it until it asks to see the screen again
    endedText: "",         // why the request's session is over, when the server said so
    delay: RETRY_FIRST_MS,
    pending: [],           // frames not drawn yet, {data, region}: at most one whole frame, then regions
    whole: false,          // the canvas holds a whole frame (regions are drawn over it)
    drawing: false,
    frames: 0,
  };

  let elements;

  function find() {
    const byId = (id) => document.getElementById(id);
    return {
      root: byId("session"), state: byId("session-state"), error: byId("session-error"),
      askAgain: byId("ask-again"), end: byId("end-session"), screen: byId("screen"),
      frame: byId("screen-frame"), empty: byId("screen-empty"),
      log: byId("chat-log"), form: byId("chat-form"), text: byId("chat-text"), send: byId("chat-send"),
    };
  }

  // -- what the page shows ---------------------------------------------------------------------

  function show(state, textKey) {
    document.body.dataset.sessionState = state;
    elements.state.textContent = elements.state.dataset[textKey || state] || "";
    elements.state.dataset.state = state;
    showError("");
    refreshControls();
  }

  function refreshControls() {
    const state = document.body.dataset.sessionState;
    const open = isOpen();
    elements.askAgain.hidden = !(open && view.customer && ASKABLE.has(state));
    elements.end.disabled = !(open && (state === "asking" || state === "sharing"));
    elements.text.disabled = !open || view.left;
    elements.send.disabled = !open || view.left;
    elements.frame.classList.toggle("paused", !view.sharing);
  }

  function showError(detail) {
    elements.error.textContent = detail;
    elements.error.hidden = !detail;
  }

  function isOpen() {
    return view.socket !== null && view.socket.readyState === WebSocket.OPEN;
  }

  // -- the socket --------------------------------------------------------------------------------

  function socketUrl() {
    const code = elements.root.dataset.code;
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}/requests/${encodeURIComponent(code)}/session/ws?csrf=${encodeURIComponent(csrf)}`;
  }

  function connect() {
    const socket = new WebSocket(socketUrl());
    socket.binaryType = "arraybuffer";  // a region frame's header is read at once
    view.socket = socket;
    socket.addEventListener("message", (event) => {
      if (socket !== view.socket) return;
      if (typeof event.data === "string") {
        receive(event.data);
      } else {
        takeFrame(event.data);
      }
    });
    socket.addEventListener("close", (event) => closed(socket, event.code));
  }

  function closed(socket, code) {
    if (socket !== view.socket) return;
    view.socket = null;
    view.sharing = false;
    const final = FINAL_CLOSES[code];
    if (final) {
      const textKey = final === "closed" && view.endedText ? view.endedText : final;
      show(FINAL_STATES[final], textKey);
      return;
    }
    show("reconnecting");
    const delay = view.delay;
    view.delay = Math.min(view.delay * 2, RETRY_MAX_MS);
    setTimeout(connect, delay);
  }

  function send(message) {
    if (!isOpen()) return false;
    view.socket.send(JSON.stringify(message));
    return true;
  }

  function receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch (error) {
      return;  // the server sends JSON only; anything else is not for this page
    }
    const handler = HANDLERS[message.type];
    if (handler) handler(message);
  }

  const HANDLERS = {
    [MESSAGE.HELLO](message) {
      view.delay = RETRY_FIRST_MS;
      view.left = false;  // a new socket joins the session
      view.whole = false;  // regions are drawn only over a whole frame this socket got
      view.customer = Boolean(message.customer_connected);
      view.sharing = Boolean(message.sharing);
      if (view.sharing) show("sharing");
      else customerThere();
    },
    [MESSAGE.CUSTOMER_JOINED]() {
      view.customer = true;
      if (!view.sharing) customerThere();
    },
    [MESSAGE.CUSTOMER_LEFT]() {
      view.customer = false;
      view.sharing = false;
      show("waiting");
    },
    [MESSAGE.CONSENT](message) {
      view.sharing = message.allowed === true;
      view.wantView = view.sharing;
      show(view.sharing ? "sharing" : "denied");
    },
    [MESSAGE.VIEW_STOPPED](message) {
      view.sharing = false;
      if (message.reason === STOP_REASON.CUSTOMER_STOPPED) {
        view.wantView = false;
        show("stopped");
      } else {
        refreshControls();  // customer_left or session_ended follows and says why
      }
    },
    [MESSAGE.SESSION_ENDED](message) {
      view.sharing = false;
      view.wantView = false;
      if (message.by === "customer") {
        show("ended", "endedCustomer");
      } else if (message.by === "expert") {
        view.left = view.left || view.ending;
        show("ended", view.ending ? "endedSelf" : "endedColleague");
        view.ending = false;
      } else {
        view.endedText = message.reason === STATUS.EXPIRED ? "endedExpired" : "endedClosed";
        show("ended", view.endedText);
      }
    },
    [MESSAGE.CHAT](message) {
      addChat(message);
    },
    [MESSAGE.ERROR](message) {
      showError(String(message.detail || ""));
    },
  };

  function customerThere() {
    if (!view.customer) {
      show("waiting");
    } else if (view.wantView) {
      ask();
    } else if (!ASKABLE.has(document.body.dataset.sessionState)) {
      show("ready");
    } else {
      refreshControls();
    }
  }

  function ask() {
    view.wantView = true;
    if (send({ type: MESSAGE.VIEW_REQUEST })) {
      view.left = false;  // the server seats this page in the session again
      show("asking");
    }
  }

  // -- frames ------------------------------------------------------------------------------------

  // A frame (an ArrayBuffer): a whole one makes every frame still waiting moot; regions wait in order.
  function takeFrame(data) {
    const frame = { data, region: regionOf(data) };
    if (frame.region) view.pending.push(frame);
    else view.pending = [frame];
    if (!view.drawing) drawPending();
  }

  // The region frame's header ({x, y, width, height, frameWidth, frameHeight}), or null for a whole frame.
  function regionOf(data) {
    if (data.byteLength < REGION.headerBytes) return null;
    const header = new DataView(data, 0, REGION.headerBytes);
    if (!REGION_MAGIC.every((byte, index) => header.getUint8(index) === byte)) return null;
    const region = {};
    REGION.fields.forEach((field, index) => {
      region[field] = header.getUint16(REGION_MAGIC.length + 2 * index, false);
    });
    return region;
  }

  async function drawPending() {
    view.drawing = true;
    while (view.pending.length) {
      const { data, region } = view.pending.shift();
      let bitmap = null;
      try {
        // A region before any whole frame (or of another size) has nothing to go over: skipped.
        if (!region || fits(region)) {
          const jpeg = region ? data.slice(REGION.headerBytes) : data;
          bitmap = await createImageBitmap(new Blob([jpeg]));  // the decoder knows a JPEG by its bytes
        }
      } catch (error) {
        bitmap = null;  // not a picture this browser can decode: skip it, ask for the next
      }
      if (bitmap) draw(bitmap, region);
      send({ type: MESSAGE.ACK });
    }
    view.drawing = false;
  }

  // Whether a region can go over the canvas: a whole frame of its frame's size is there, and it lies inside.
  function fits(region) {
    const canvas = elements.screen;
    return view.whole && canvas.width === region.frameWidth && canvas.height === region.frameHeight &&
      region.x + region.width <= canvas.width && region.y + region.height <= canvas.height;
  }

  function draw(bitmap, region) {
    const canvas = elements.screen;
    if (region) {
      canvas.getContext("2d").drawImage(bitmap, region.x, region.y, region.width, region.height);
    } else {
      if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
        canvas.width = bitmap.width;
        canvas.height = bitmap.height;
      }
      canvas.getContext("2d").drawImage(bitmap, 0, 0);
      view.whole = true;
    }
    bitmap.close();
    elements.empty.hidden = true;
    elements.frame.classList.remove("paused");
    view.frames += 1;
    document.body.dataset.lastFrameAt = String(performance.timeOrigin + performance.now());
    document.body.dataset.framesDrawn = String(view.frames);
  }

  // -- chat --------------------------------------------------------------------------------------

  function addChat(message) {
    const item = document.createElement("li");
    item.className = message.from === "customer" ? "from-customer" : "from-expert";
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
    item.append(time, name, text);
    elements.log.append(item);
    elements.log.scrollTop = elements.log.scrollHeight;
  }

  function sendChat(event) {
    event.preventDefault();
    const text = elements.text.value.trim();
    if (!text) return;
    if (!send({ type: MESSAGE.CHAT, text })) {
      showError(elements.state.dataset.notSent);
      return;
    }
    elements.text.value = "";
  }

  // -- start -------------------------------------------------------------------------------------

  function start() {
    elements = find();
    document.body.dataset.framesDrawn = "0";
    elements.form.addEventListener("submit", sendChat);
    elements.text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        elements.form.requestSubmit();
      }
    });
    elements.askAgain.addEventListener("click", ask);
    elements.end.addEventListener("click", () => {
      view.ending = true;
      view.wantView = false;
      send({ type: MESSAGE.END });
    });
    show("connecting");
    connect();
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.body.dataset.page === "session") start();
  });
})();
