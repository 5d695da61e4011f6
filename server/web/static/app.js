// The dashboard's live parts: queue refresh over server-sent events, countdowns, sound and
// browser notifications. Pages work without it; nothing here builds markup from event data.
"use strict";

// The server's vocabulary (server/web/vocabulary.py), rendered into every page by base.html.
const VOCABULARY = JSON.parse(document.querySelector("meta[name='sosqueue-vocabulary']").content);
const EVENT = VOCABULARY.event;
const EVENT_TYPES = VOCABULARY.queueEvents;
// A request's page also shows what the customer adds, which the queue's rows do not.
const REQUEST_EVENT_TYPES = [...EVENT_TYPES, EVENT.NOTE_ADDED];
const RETRY_MAX_MS = 30000;

function text(name) {
  const state = document.getElementById("live-state");
  return state ? state.dataset[name] : "";
}

function showLive(state) {
  document.body.dataset.live = state;
  const label = document.getElementById("live-state");
  if (label) label.textContent = text(state === "open" ? "online" : "offline");
}

// The browser reconnects a broken stream by itself. What happened meanwhile is caught up by
// ``onResume`` (a stream that had no event yet has no id to resume after). The browser gives up
// for good when an answer is not a stream: the login ended (the server sent the login page) or a
// proxy failed. Then the stream is asked for by hand: 401 means log in again, else try again.
// ``after``: the event the page was rendered at (its changes since then come first); the browser's
// own Last-Event-ID takes over once an event came.
function connectLive(types, onEvent, onResume, after = "") {
  let delay = 1000;
  let broken = false;
  const url = after ? `/live?after=${encodeURIComponent(after)}` : "/live";
  const open = () => {
    const source = new EventSource(url);
    source.addEventListener("open", () => {
      delay = 1000;
      if (broken) onResume();
      broken = false;
    });
    // Live once the server says so: the stream opens a moment before it passes on every change.
    source.addEventListener(VOCABULARY.streamSubscribed, () => showLive("open"));
    source.addEventListener("error", () => {
      broken = true;
      showLive("reconnecting");
      if (source.readyState === EventSource.CLOSED) setTimeout(recover, delay);
    });
    for (const type of types) {
      source.addEventListener(type, (message) => onEvent(type, JSON.parse(message.data)));
    }
  };
  const recover = async () => {
    delay = Math.min(delay * 2, RETRY_MAX_MS);
    const probe = new AbortController();
    let response;
    try {
      response = await fetch(url, { headers: { "X-Requested-With": "fetch" }, signal: probe.signal });
    } catch (error) {
      setTimeout(recover, delay);  // the server is not reachable yet
      return;
    }
    probe.abort();
    if (response.status === 401) {
      window.location.reload();  // lands on the login page, which says the login expired
      return;
    }
    open();
  };
  open();
}

// -- the queue -------------------------------------------------------------------------------

function currentCodes() {
  return new Set([...document.querySelectorAll("#queue-rows tr[data-code]")].map((row) => row.dataset.code));
}

let latestRefresh = 0;
const unannounced = new Set();  // codes created since the last refresh that got through
const unescalated = new Set();  // codes escalated since the last refresh that got through

async function refreshRows(newCodes, escalatedCodes = new Set()) {
  const table = document.getElementById("queue");
  const refresh = ++latestRefresh;
  for (const code of newCodes) unannounced.add(code);
  for (const code of escalatedCodes) unescalated.add(code);
  let response, body;
  try {
    response = await fetch(table.dataset.rowsUrl, { headers: { "X-Requested-With": "fetch" } });
    body = await response.text();
  } catch (error) {
    return;  // the server is not reachable; the stream's next event refreshes again
  }
  if (response.status === 401) {
    window.location.reload();
    return;
  }
  if (!response.ok || refresh !== latestRefresh) return;  // an older answer must not replace a newer one
  const parsed = new DOMParser().parseFromString(`<table>${body}</table>`, "text/html");
  const rows = parsed.getElementById("queue-rows");
  const before = currentCodes();
  table.replaceChild(document.adoptNode(rows), document.getElementById("queue-rows"));
  for (const row of rows.querySelectorAll("tr[data-code]")) {
    if (!before.has(row.dataset.code)) {
      row.classList.add("fresh");
      if (unannounced.has(row.dataset.code)) announce(row, `SOS ${row.dataset.code}`);
    }
    if (unescalated.has(row.dataset.code)) announce(row, `${table.dataset.escalated}: ${row.dataset.code}`);
  }
  unannounced.clear();
  unescalated.clear();
  showLocalTimes(rows);
  updateCountdowns();
  updateUrgencies();
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
}

function startQueue() {
  const created = new Set();
  const escalated = new Set();
  let pending = null;
  connectLive(EVENT_TYPES, (type, event) => {
    if (type === EVENT.CREATED) created.add(event.code);
    if (type === EVENT.ESCALATED) escalated.add(event.code);
    clearTimeout(pending);
    pending = setTimeout(() => {
      const codes = new Set(created);
      const lapsed = new Set(escalated);
      created.clear();
      escalated.clear();
      refreshRows(codes, lapsed);
    }, 50);
  }, () => refreshRows(new Set()));
  setupSound();
  setupNotifications();
}

// -- sound and notifications ---------------------------------------------------------------------

function setupSound() {
  const toggle = document.getElementById("sound-toggle");
  if (!toggle) return;
  toggle.checked = localStorage.getItem("sosqueue.sound") === "on";
  toggle.addEventListener("change", () => localStorage.setItem("sosqueue.sound", toggle.checked ? "on" : "off"));
}

function beep() {
  const context = new (window.AudioContext || window.webkitAudioContext)();
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  oscillator.frequency.value = 880;
  gain.gain.setValueAtTime(0.2, context.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.4);
  oscillator.connect(gain).connect(context.destination);
  oscillator.start();
  oscillator.stop(context.currentTime + 0.4);
}

function setupNotifications() {
  const button = document.getElementById("notify-toggle");
  if (!button || !("Notification" in window)) {
    if (button) button.hidden = true;
    return;
  }
  button.addEventListener("click", () => Notification.requestPermission());
}

// Only about the supporter's own requests (``data-mine``: of their groups or of no group), so
// that only the team a request is for is alerted.
function announce(row, title) {
  if (!("mine" in row.dataset)) return;
  if (localStorage.getItem("sosqueue.sound") === "on") {
    try { beep(); } catch (error) { /* no audio device: stay silent */ }
  }
  if ("Notification" in window && Notification.permission === "granted") {
    const customer = row.querySelector(".customer").textContent.trim();
    new Notification(title, { body: customer, tag: `${title} ${row.dataset.code}` });
  }
}

// -- times -----------------------------------------------------------------------------------

// The server writes every time in UTC ("2026-12-02 08:58 UTC", readable without this script) with
// the instant in ``datetime``; shown here in the supporter's time zone and the page's language.
// Countdowns (``time.countdown``) show the time left instead, waits (``time.waited``) the time waited.
function showLocalTimes(root) {
  const format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZoneName: "short",
  });
  for (const element of root.querySelectorAll("time[datetime]:not(.countdown):not(.waited):not([data-local])")) {
    const instant = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(instant.getTime())) continue;
    element.title = element.textContent.trim();  // the UTC time stays at hand
    element.textContent = format.format(instant);
    element.dataset.local = "";
  }
}

// -- countdowns ----------------------------------------------------------------------------------

function formatLeft(milliseconds) {
  if (milliseconds <= 0) return document.body.dataset.countdownEnded;
  const minutes = Math.floor(milliseconds / 60000);
  if (minutes >= 60) return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
  const seconds = Math.floor(milliseconds / 1000) % 60;
  return `${minutes} min ${String(seconds).padStart(2, "0")} s`;
}

function updateCountdowns() {
  const now = Date.now();
  for (const element of document.querySelectorAll("time.countdown")) {
    element.textContent = formatLeft(Date.parse(element.getAttribute("datetime")) - now);
  }
}

// -- waiting times and their urgency ----------------------------------------------------------

function formatWaited(milliseconds) {
  const minutes = Math.floor(Math.max(milliseconds, 0) / 60000);
  if (minutes >= 60) return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${minutes} min ${String(Math.floor(Math.max(milliseconds, 0) / 1000) % 60).padStart(2, "0")} s`;
}

// Each waiting row says from when on it is which urgency (``data-urgency-steps``, worked out by
// the server from its group's thresholds); here it turns as time passes, colour and label alike.
function updateUrgencies() {
  const table = document.getElementById("queue");
  if (!table) return;
  const labels = JSON.parse(table.dataset.urgencyLabels);
  const now = Date.now();
  for (const row of table.querySelectorAll("tr[data-urgency-steps]")) {
    const steps = JSON.parse(row.dataset.urgencySteps);
    let urgency = steps[0][1];
    for (const [at, name] of steps) if (Date.parse(at) <= now) urgency = name;
    if (row.dataset.urgency !== urgency) {
      row.dataset.urgency = urgency;
      row.querySelector(".urgency").textContent = labels[urgency];
    }
    const waited = row.querySelector("time.waited");
    waited.textContent = formatWaited(now - Date.parse(waited.getAttribute("datetime")));
  }
}

// -- confirmations -------------------------------------------------------------------------------

// A form with ``data-confirm="<dialog id>"`` asks first: its first submit button opens the dialog,
// whose own submit button sends the form and whose ``data-cancel`` button closes it again.
function setupConfirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    const dialog = document.getElementById(form.dataset.confirm);
    if (!dialog || typeof dialog.showModal !== "function") continue;
    form.addEventListener("submit", (event) => {
      if (!dialog.open) {
        event.preventDefault();
        dialog.showModal();
      }
    });
    dialog.querySelector("[data-cancel]").addEventListener("click", () => dialog.close());
  }
}

// -- one request ---------------------------------------------------------------------------------

function startRequest() {
  const { code, liveAfter } = document.getElementById("request").dataset;
  // A form of this page on its way (assign, close…) brings a fresh page itself; reloading for
  // the event it caused would abort that navigation. A form that only asked first is not on its way.
  let submitting = false;
  document.addEventListener("submit", (event) => { if (!event.defaultPrevented) submitting = true; });
  setupConfirmations();
  const reload = () => {
    if (!submitting) window.location.replace(window.location.pathname);
  };
  connectLive(REQUEST_EVENT_TYPES, (type, event) => {
    if (event.code === code) reload();
  }, reload, liveAfter);
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "queue") startQueue();
  if (page === "request") startRequest();
  showLocalTimes(document);
  updateCountdowns();
  updateUrgencies();
  setInterval(() => { updateCountdowns(); updateUrgencies(); }, 1000);
});
