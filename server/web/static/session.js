// The expert's session view: the customer's screen over a WebSocket, drawn frame by frame, and a chat
// (drawn and sent with chat.js, loaded before this file).
// Protocol: server/connect/protocol.py. Everything the customer sends reaches the page as
// textContent or as pixels, never as markup. Test hooks on document.body.dataset:
// sessionState, framesDrawn, lastFrameAt (ms since the epoch, when the last frame was drawn),
// controlState (none, asking, in_control, other, denied, unavailable) and keyboardFocus (yes, no).
// Frames are whole (one JPEG) or regions drawn over the last whole frame (header: vocabulary's regionFrame).
// Remote control: once the customer allows it, the mouse over the screen and the keys typed while
// the screen has the focus go to the customer's computer as input messages.
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
  const SCOPE = VOCABULARY.scope;
  const KEY = VOCABULARY.key;
  const MODIFIER = VOCABULARY.modifier;
  const BUTTON = VOCABULARY.button;
  const TAKE_BACK = VOCABULARY.takeBack;
  const LIMITS = VOCABULARY.inputLimits;
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
  // Control states in which this page may ask for control (while the screen is shared).
  const CONTROL_ASKABLE = new Set(["none", "denied", "unavailable"]);
  // What control_stopped's reason says (a key of #control-state's data attributes); "self" or
  // "colleague" for the expert giving it back.
  const STOPPED_TEXTS = {
    [STOP_REASON.CUSTOMER_STOPPED]: "stoppedCustomer", [STOP_REASON.EXPERT_ENDED]: "stoppedEnded",
    [STOP_REASON.EXPERTS_LEFT]: "stoppedLeft", [STOP_REASON.WITHDRAWN]: "stoppedLeft",
    [STOP_REASON.CUSTOMER_LEFT]: "stoppedCustomerLeft", [STOP_REASON.UNAVAILABLE]: "stoppedUnavailable",
  };
  // The DOM's event.button → the protocol's button; the bit of each in event.buttons.
  const BUTTONS = [BUTTON.LEFT, BUTTON.MIDDLE, BUTTON.RIGHT];
  const BUTTON_BITS = [1, 4, 2];
  // Keys pressed alone send nothing: they only change the keys pressed with them.
  const LONE_MODIFIERS = new Set([...Object.values(MODIFIER), "AltGraph", "Fn", "FnLock", "Hyper", "Super",
    "Symbol", "SymbolLock", "Dead", "Process", "Unidentified", "Compose"]);
  const NAMED_KEYS = new Set(Object.values(KEY).filter((key) => !LONE_MODIFIERS.has(key)));
  // Wheel deltas per notch, by deltaMode (pixels, lines, pages): what one notch scrolls in Chromium and Firefox.
  const PER_NOTCH = [100, 3, 1];
  // Line breaks and tabs are the only control characters text may carry.
  const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

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

  // Remote control, as this page sees it.
  const control = {
    state: "none",         // none, asking, in_control, other, denied, unavailable
    text: "none",          // the key of the state's text (#control-state's data attributes)
    values: {},            // the text's {placeholders}
    expert: null,          // {id, name} of the expert in control
    monitors: [],
    secureAttention: false,
    pointer: null,         // the newest pointer position not sent yet ({x, y, width, height})
    frameRequest: 0,       // the animation frame that sends it
    wheel: { x: 0, y: 0 }, // notches not sent yet (fractions of one)
    givingBack: false,     // this page gave control back and waits for control_stopped: no more input
  };

  let elements;

  function find() {
    const byId = (id) => document.getElementById(id);
    return {
      root: byId("session"), state: byId("session-state"), error: byId("session-error"),
      askAgain: byId("ask-again"), end: byId("end-session"), screen: byId("screen"),
      frame: byId("screen-frame"), empty: byId("screen-empty"), keys: byId("control-keys"),
      controlState: byId("control-state"), requestControl: byId("request-control"), giveBack: byId("give-back"),
      secureAttention: byId("secure-attention"), monitorLabel: byId("monitor-label"), monitor: byId("monitor"),
      keyboardHint: byId("keyboard-hint"),
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
    refreshControl();
  }

  function showError(detail) {
    elements.error.textContent = detail;
    elements.error.hidden = !detail;
  }

  function isOpen() {
    return view.socket !== null && view.socket.readyState === WebSocket.OPEN;
  }

  // -- the socket --------------------------------------------------------------------------------

  function connect() {
    const socket = SosqueueChat.openSocket(elements.root.dataset.code);
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
    setControl("none");
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
      SosqueueChat.fill(elements.log, message.chat);  // the conversation so far, also from request pages
      view.sharing = Boolean(message.sharing);
      const standing = message.control;
      if (view.sharing && standing && standing.expert) controlGranted(standing);
      else setControl("none");
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
      if (control.state !== "none") setControl("none", "stoppedCustomerLeft");
      show("waiting");
    },
    [MESSAGE.CONSENT](message) {
      if (Array.isArray(message.scopes) && message.scopes.includes(SCOPE.CONTROL)) {
        controlConsent(message);
        return;
      }
      view.sharing = message.allowed === true;
      view.wantView = view.sharing;
      show(view.sharing ? "sharing" : "denied");
    },
    [MESSAGE.VIEW_STOPPED](message) {
      view.sharing = false;
      if (control.state !== "none") setControl("none", "stoppedSharing");
      if (message.reason === STOP_REASON.CUSTOMER_STOPPED) {
        view.wantView = false;
        show("stopped");
      } else {
        refreshControls();  // customer_left or session_ended follows and says why
      }
    },
    [MESSAGE.SESSION_ENDED](message) {
      view.sharing = false;
      if (control.state !== "none") setControl("none", "stoppedEnded");
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
      SosqueueChat.add(elements.log, message);
    },
    [MESSAGE.ERROR](message) {
      showError(String(message.detail || ""));
    },
    [MESSAGE.CONTROL_STOPPED](message) {
      let text = STOPPED_TEXTS[message.reason] || "stopped";
      let values = {};
      if (message.reason === STOP_REASON.EXPERT_STOPPED) {
        text = control.state === "in_control" ? "stoppedSelf" : "stoppedColleague";
        values = { name: control.expert ? control.expert.name : "" };
      }
      setControl("none", text, values);
    },
    [MESSAGE.CONTROL_UNAVAILABLE](message) {
      setControl("unavailable", "unavailable", { detail: String(message.detail || "") });
    },
    [MESSAGE.INPUT_ERROR](message) {
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

  // -- remote control: its state ------------------------------------------------------------------

  function myId() {
    return elements.root.dataset.userId;
  }

  // "{name} is in control" with its placeholders filled (the result goes in as textContent).
  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
  }

  function setControl(state, textKey, values) {
    const wasInControl = control.state === "in_control";
    control.state = state;
    control.givingBack = false;
    control.text = textKey || state;
    control.values = values || {};
    if (state !== "in_control" && state !== "other") {
      control.expert = null;
      control.monitors = [];
      control.secureAttention = false;
    }
    if (wasInControl && state !== "in_control") stopInput();
    refreshControl();
  }

  // A control consent: allowed to this page's user (in control), to a colleague, or denied.
  function controlConsent(message) {
    if (message.allowed === true && message.expert) {
      controlGranted(message);
    } else if (control.state === "asking" && (!message.expert || String(message.expert.id) === myId())) {
      setControl("denied");
    }
  }

  function controlGranted(consent) {
    const expert = { id: String(consent.expert.id), name: String(consent.expert.name || "") };
    const mine = expert.id === myId();
    setControl(mine ? "in_control" : "other", mine ? "in_control" : "other", { name: expert.name });
    control.expert = expert;
    control.monitors = Array.isArray(consent.monitors) ? consent.monitors.slice(0, LIMITS.monitors) : [];
    control.secureAttention = consent.secure_attention === true;
    fillMonitors();
    refreshControl();
  }

  function refreshControl() {
    const state = control.state;
    const inControl = state === "in_control";
    document.body.dataset.controlState = state;
    const textKey = control.text.replace(/_(\w)/g, (whole, letter) => letter.toUpperCase());
    elements.controlState.textContent = fill(elements.controlState.dataset[textKey], control.values);
    elements.controlState.dataset.state = state;
    elements.requestControl.hidden = inControl;
    elements.requestControl.disabled = !(isOpen() && view.sharing && !view.left && CONTROL_ASKABLE.has(state));
    elements.giveBack.hidden = !inControl;
    elements.giveBack.disabled = control.givingBack;
    elements.secureAttention.hidden = !(inControl && control.secureAttention);
    elements.monitorLabel.hidden = !(inControl && control.monitors.length > 1);
    elements.keys.tabIndex = inControl ? 0 : -1;
    elements.keys.disabled = !inControl;
    elements.frame.classList.toggle("controlled", inControl);
    refreshKeyboardHint();
  }

  function refreshKeyboardHint() {
    const focused = control.state === "in_control" && document.activeElement === elements.keys;
    document.body.dataset.keyboardFocus = focused ? "yes" : "no";
    elements.keyboardHint.hidden = control.state !== "in_control";
    elements.keyboardHint.textContent = elements.keyboardHint.dataset[focused ? "focused" : "unfocused"];
    elements.keyboardHint.classList.toggle("focused", focused);
  }

  function fillMonitors() {
    const select = elements.monitor;
    const texts = elements.controlState.dataset;
    const whole = document.createElement("option");
    whole.value = "";
    whole.textContent = texts.wholeDesktop;
    const options = [whole];
    control.monitors.forEach((monitor, index) => {
      const option = document.createElement("option");
      option.value = String(index);
      option.textContent = fill(texts.monitor, { number: index + 1, width: monitor.width, height: monitor.height });
      options.push(option);
    });
    select.replaceChildren(...options);
  }

  function requestControl() {
    if (send({ type: MESSAGE.CONTROL_REQUEST })) setControl("asking");
  }

  function giveBack() {
    if (!send({ type: MESSAGE.CONTROL_STOP })) return;
    control.givingBack = true;  // nothing more is sent; control_stopped says it is over
    stopInput();
    refreshControl();
  }

  // Input goes out only while this page is in control (and has not given it back).
  function sendInput(message) {
    if (control.state !== "in_control" || control.givingBack) return false;
    return send(message);
  }

  function stopInput() {
    if (control.frameRequest) cancelAnimationFrame(control.frameRequest);
    control.frameRequest = 0;
    control.pointer = null;
    control.wheel = { x: 0, y: 0 };
    elements.keys.value = "";
    if (document.activeElement === elements.keys) elements.keys.blur();
  }

  // -- remote control: the mouse ------------------------------------------------------------------

  // The pointer's place in the customer's picture (the last whole frame, width × height pixels),
  // however CSS scales the canvas (and letterboxes it, with object-fit), clamped into the picture.
  function pictureAt(event) {
    const canvas = elements.screen;
    const width = canvas.width;
    const height = canvas.height;
    if (!view.whole || !width || !height) return null;
    const rect = canvas.getBoundingClientRect();
    const style = getComputedStyle(canvas);
    const px = (name) => parseFloat(style[name]) || 0;
    // The content box: the canvas's box without its borders and padding.
    const before = { x: px("borderLeftWidth") + px("paddingLeft"), y: px("borderTopWidth") + px("paddingTop") };
    const after = { x: px("borderRightWidth") + px("paddingRight"), y: px("borderBottomWidth") + px("paddingBottom") };
    const left = rect.left + before.x;
    const top = rect.top + before.y;
    const boxWidth = rect.width - before.x - after.x;
    const boxHeight = rect.height - before.y - after.y;
    if (boxWidth <= 0 || boxHeight <= 0) return null;
    let scaleX = boxWidth / width;
    let scaleY = boxHeight / height;
    const fit = style.objectFit;
    if (fit === "contain" || fit === "cover" || fit === "none" || fit === "scale-down") {
      let scale = fit === "cover" ? Math.max(scaleX, scaleY) : Math.min(scaleX, scaleY);
      if (fit === "none") scale = 1;
      if (fit === "scale-down") scale = Math.min(1, scale);
      scaleX = scale;
      scaleY = scale;
    }
    const [positionX, positionY] = objectPosition(style.objectPosition);
    const offsetX = (boxWidth - width * scaleX) * positionX;
    const offsetY = (boxHeight - height * scaleY) * positionY;
    const clamp = (value, most) => Math.min(Math.max(Math.floor(value), 0), most - 1);
    return {
      x: clamp((event.clientX - left - offsetX) / scaleX, width),
      y: clamp((event.clientY - top - offsetY) / scaleY, height),
      width, height,
    };
  }

  // object-position as fractions of the free space (percentages; anything else counts as the centre).
  function objectPosition(value) {
    const parts = String(value || "").split(/\s+/);
    return [0, 1].map((index) => {
      const part = parts[index] || "";
      return part.endsWith("%") ? parseFloat(part) / 100 : 0.5;
    });
  }

  function pointerMoved(event) {
    if (control.state !== "in_control") return;
    const at = pictureAt(event);
    if (!at) return;
    if (event.button >= 0 && event.pointerType === "mouse") {
      // Another button pressed or released while one is down (a chord): no pointerdown/up for it.
      flushMove();
      const down = (event.buttons & BUTTON_BITS[event.button]) !== 0;
      sendButton(event.button, down, at);
      return;
    }
    control.pointer = at;
    if (!control.frameRequest) control.frameRequest = requestAnimationFrame(flushMove);
  }

  // The newest pointer position, once per animation frame (or at once, before a button).
  function flushMove() {
    if (control.frameRequest) cancelAnimationFrame(control.frameRequest);
    control.frameRequest = 0;
    const at = control.pointer;
    control.pointer = null;
    if (at) sendInput({ type: MESSAGE.INPUT_MOVE, ...at });
  }

  function sendButton(index, down, at) {
    const button = BUTTONS[index];
    if (!button) return;
    sendInput({ type: MESSAGE.INPUT_BUTTON, button, down, ...at });
  }

  function pointerDown(event) {
    if (control.state !== "in_control") return;
    event.preventDefault();  // no text selection, no middle-button scrolling, and the focus is set here:
    elements.keys.focus({ preventScroll: true });
    const at = pictureAt(event);
    if (!at) return;
    elements.screen.setPointerCapture(event.pointerId);  // the release arrives even outside the screen
    control.pointer = at;
    flushMove();
    sendButton(event.button, true, at);
  }

  function pointerUp(event) {
    if (control.state !== "in_control") return;
    event.preventDefault();
    const at = pictureAt(event);
    if (!at) return;
    flushMove();
    sendButton(event.button, false, at);
  }

  // Wheel deltas in notches: lines and pages by their size, small pixel deltas (touchpads) added
  // up until they make a notch; at most the limit either way in one message.
  function wheel(event) {
    if (control.state !== "in_control") return;
    event.preventDefault();
    const perNotch = PER_NOTCH[event.deltaMode] || PER_NOTCH[0];
    control.wheel.x += event.deltaX / perNotch;
    control.wheel.y += event.deltaY / perNotch;
    const dx = Math.trunc(control.wheel.x);
    const dy = Math.trunc(control.wheel.y);
    control.wheel.x -= dx;
    control.wheel.y -= dy;
    if (!dx && !dy) return;
    const at = pictureAt(event);
    if (at) control.pointer = at;
    flushMove();  // the customer's pointer is where the wheel turns
    const most = LIMITS.wheelNotches;
    const clamp = (value) => Math.min(Math.max(value, -most), most);
    sendInput({ type: MESSAGE.INPUT_WHEEL, dx: clamp(dx), dy: clamp(dy) });
  }

  // -- remote control: the keyboard ---------------------------------------------------------------

  // The modifiers held with a key; AltGr (which some systems report as Control+Alt too) types
  // characters, so it is no shortcut.
  function modifiersOf(event) {
    const altGraph = event.getModifierState("AltGraph");
    return Object.values(MODIFIER).filter((modifier) => {
      if (altGraph && (modifier === MODIFIER.CONTROL || modifier === MODIFIER.ALT)) return false;
      return event.getModifierState(modifier);
    });
  }

  // A named key (Enter, F5, an arrow …) or a shortcut (Ctrl+C) goes as input.key; everything that
  // types text is left to the textarea, whose input events send it, in any layout and input method.
  function keyDown(event) {
    if (control.state !== "in_control" || event.isComposing || event.keyCode === 229) return;
    const key = event.key;
    if (LONE_MODIFIERS.has(key)) return;
    const modifiers = modifiersOf(event);
    const shortcut = modifiers.some((modifier) => modifier !== MODIFIER.SHIFT);
    const named = NAMED_KEYS.has(key) && !(key === KEY.SPACE && !shortcut);  // a plain space is text
    const shortcutCharacter = shortcut && [...key].length === 1;  // Ctrl+C: the character itself
    if (!named && !shortcutCharacter) return;
    event.preventDefault();
    if (key === TAKE_BACK.key && TAKE_BACK.modifiers.every((modifier) => modifiers.includes(modifier))) {
      showError(fill(elements.controlState.dataset.takeBack, { combination: TAKE_BACK.label }));
      return;
    }
    sendInput({ type: MESSAGE.INPUT_KEY, key, modifiers });
  }

  // What was typed into the textarea, sent as text (at most the limit per message) and cleared.
  function sendTyped(event) {
    if (event && event.isComposing) return;  // compositionend sends the composed text
    const typed = elements.keys.value.replace(/\r\n?/g, "\n").replace(CONTROL_CHARS, "");
    elements.keys.value = "";
    if (control.state !== "in_control") return;
    const characters = [...typed];
    for (let start = 0; start < characters.length; start += LIMITS.textChars) {
      sendInput({ type: MESSAGE.INPUT_TEXT, text: characters.slice(start, start + LIMITS.textChars).join("") });
    }
  }

  function startControl() {
    const canvas = elements.screen;
    elements.requestControl.addEventListener("click", requestControl);
    elements.giveBack.addEventListener("click", giveBack);
    elements.secureAttention.addEventListener("click", () => {
      sendInput({ type: MESSAGE.INPUT_SECURE_ATTENTION });
    });
    elements.monitor.addEventListener("change", () => {
      const value = elements.monitor.value;
      sendInput({ type: MESSAGE.INPUT_MONITOR, monitor: value === "" ? null : Number(value) });
    });
    canvas.addEventListener("pointerdown", pointerDown);
    canvas.addEventListener("mousedown", (event) => {
      if (control.state === "in_control") event.preventDefault();  // the focus stays with the keyboard's textarea
    });
    canvas.addEventListener("pointerup", pointerUp);
    canvas.addEventListener("pointermove", pointerMoved);
    canvas.addEventListener("wheel", wheel, { passive: false });
    canvas.addEventListener("contextmenu", (event) => {
      if (control.state === "in_control") event.preventDefault();
    });
    elements.keys.addEventListener("keydown", keyDown);
    elements.keys.addEventListener("input", sendTyped);
    elements.keys.addEventListener("compositionend", () => sendTyped(null));
    elements.keys.addEventListener("focus", refreshKeyboardHint);
    elements.keys.addEventListener("blur", refreshKeyboardHint);
  }

  // -- chat --------------------------------------------------------------------------------------

  function sendChat(text) {
    if (send({ type: MESSAGE.CHAT, text })) return true;
    showError(elements.state.dataset.notSent);
    return false;
  }

  // -- start -------------------------------------------------------------------------------------

  function start() {
    elements = find();
    document.body.dataset.framesDrawn = "0";
    SosqueueChat.bind(elements.form, elements.text, sendChat);
    elements.askAgain.addEventListener("click", ask);
    startControl();
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
