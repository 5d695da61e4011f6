// The dashboard's live parts: queue refresh over server-sent events, countdowns, sound and
// browser notifications. Pages work without it; nothing here builds markup from event data.
"use strict";

const EVENT_TYPES = ["created", "assigned", "claimed", "joined", "left", "status_changed", "closed", "expired"];

function text(name) {
  const state = document.getElementById("live-state");
  return state ? state.dataset[name] : "";
}

function connectLive(onEvent) {
  const source = new EventSource("/live");
  const state = document.getElementById("live-state");
  source.addEventListener("open", () => {
    document.body.dataset.live = "open";
    if (state) state.textContent = text("online");
  });
  source.addEventListener("error", () => {
    document.body.dataset.live = "reconnecting";
    if (state) state.textContent = text("offline");
  });
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (message) => onEvent(type, JSON.parse(message.data)));
  }
  return source;
}

// -- the queue -------------------------------------------------------------------------------

function currentCodes() {
  return new Set([...document.querySelectorAll("#queue-rows tr[data-code]")].map((row) => row.dataset.code));
}

async function refreshRows(newCodes) {
  const table = document.getElementById("queue");
  const response = await fetch(table.dataset.rowsUrl, { headers: { "X-Requested-With": "fetch" } });
  if (response.status === 401) {
    window.location.reload();
    return;
  }
  if (!response.ok) return;
  const parsed = new DOMParser().parseFromString(`<table>${await response.text()}</table>`, "text/html");
  const rows = parsed.getElementById("queue-rows");
  const before = currentCodes();
  table.replaceChild(document.adoptNode(rows), document.getElementById("queue-rows"));
  for (const row of rows.querySelectorAll("tr[data-code]")) {
    if (!before.has(row.dataset.code)) {
      row.classList.add("fresh");
      if (newCodes.has(row.dataset.code)) announce(row);
    }
  }
  updateCountdowns();
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
}

function startQueue() {
  const created = new Set();
  let pending = null;
  connectLive((type, event) => {
    if (type === "created") created.add(event.code);
    clearTimeout(pending);
    pending = setTimeout(() => {
      const codes = new Set(created);
      created.clear();
      refreshRows(codes);
    }, 50);
  });
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

function announce(row) {
  if (localStorage.getItem("sosqueue.sound") === "on") {
    try { beep(); } catch (error) { /* no audio device: stay silent */ }
  }
  if ("Notification" in window && Notification.permission === "granted") {
    const customer = row.querySelector(".customer").textContent.trim();
    new Notification(`SOS ${row.dataset.code}`, { body: customer, tag: row.dataset.code });
  }
}

// -- countdowns ----------------------------------------------------------------------------------

function formatLeft(milliseconds) {
  if (milliseconds <= 0) return document.body.dataset.lang === "de" ? "abgelaufen" : "expired";
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

// -- one request ---------------------------------------------------------------------------------

function startRequest() {
  const code = document.getElementById("request").dataset.code;
  connectLive((type, event) => {
    if (event.code === code) window.location.replace(window.location.pathname);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "queue") startQueue();
  if (page === "request") startRequest();
  updateCountdowns();
  setInterval(updateCountdowns, 1000);
});
