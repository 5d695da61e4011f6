// The brand editor (admin/brand.html): colour pickers beside the colour inputs, and a live preview.
// The server draws the preview and works out every contrast (…/brand/preview); this script only
// sends the form and shows the answer, as text and as a data: image, never as markup.
"use strict";

const PREVIEW_DELAY_MS = 400;

function startBrandEditor() {
  const form = document.getElementById("brand-form");
  linkColourPickers(form);
  paintSamples(document.getElementById("contrast"));
  zoomOnClick(document.getElementById("preview-zoom"));
  let timer = null;
  let running = null;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (running) running.abort();
      running = new AbortController();
      updatePreview(form, running.signal);
    }, PREVIEW_DELAY_MS);
  };
  form.addEventListener("input", refresh);  // typing, choices, ticks and a chosen file alike
  form.addEventListener("submit", (event) => {
    if (logoTooLarge(form)) {
      event.preventDefault();
      showState(document.getElementById("preview-state").dataset.tooLarge, true);
    }
  });
}

// -- colours ---------------------------------------------------------------------------------------

function linkColourPickers(form) {
  for (const picker of form.querySelectorAll("input[data-picker-for]")) {
    const field = form.elements[picker.dataset.pickerFor];
    picker.addEventListener("input", () => {
      field.value = picker.value.toUpperCase();
      field.dispatchEvent(new Event("input", { bubbles: true }));
    });
    field.addEventListener("input", () => {
      const typed = field.value.trim();
      if (/^#[0-9a-fA-F]{6}$/.test(typed)) picker.value = typed.toLowerCase();
    });
  }
}

function paintSamples(table) {
  for (const sample of table.querySelectorAll(".sample")) {
    sample.style.color = sample.dataset.text;
    sample.style.backgroundColor = sample.dataset.background;
  }
}

// -- the preview -----------------------------------------------------------------------------------

function logoTooLarge(form) {
  const chosen = form.elements.logo.files[0];
  return Boolean(chosen) && chosen.size > Number(form.dataset.maxUploadBytes);
}

async function updatePreview(form, signal) {
  const state = document.getElementById("preview-state");
  if (logoTooLarge(form)) {
    showState(state.dataset.tooLarge, true);
    return;
  }
  showState(state.dataset.working, false);
  let response;
  try {
    response = await fetch(form.dataset.preview, {
      method: "POST", body: new FormData(form), headers: { "X-Requested-With": "fetch" }, signal,
    });
  } catch (error) {
    if (error.name !== "AbortError") showState(state.dataset.failed, true);
    return;
  }
  if (response.status === 401) {
    window.location.reload();  // the login ended: the login page says so
    return;
  }
  const answer = response.ok ? await response.json().catch(() => null) : null;
  if (!answer) {
    showState(response.status === 413 ? state.dataset.tooLarge : state.dataset.failed, true);
    return;
  }
  showErrors(form, answer.errors);
  showPairs(answer.pairs);
  const image = document.getElementById("preview");
  if (answer.image) {
    image.src = answer.image;
    image.hidden = false;
  }
  showState(answer.ok ? "" : state.dataset.refused, !answer.ok);
}

// Three windows and the icons side by side are small in the column: a click shows them at their real size.
function zoomOnClick(button) {
  button.addEventListener("click", () => {
    const zoomed = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(zoomed));
  });
}

function showState(message, isProblem) {
  const state = document.getElementById("preview-state");
  state.textContent = message;
  state.classList.toggle("error", isProblem);
}

// Each message beside its input's slot; one that belongs to no input shows above the form.
function showErrors(form, errors) {
  for (const old of form.querySelectorAll("[data-field-slot] > .field-error")) old.remove();
  for (const [field, message] of Object.entries(errors)) {
    const slot = form.querySelector(`[data-field-slot="${CSS.escape(field)}"]`)
      || form.querySelector('[data-field-slot="brand"]');
    const line = document.createElement("p");
    line.className = "field-error";
    line.setAttribute("role", "alert");
    line.dataset.field = field;
    line.textContent = message;
    slot.append(line);
  }
}

function showPairs(pairs) {
  const table = document.getElementById("contrast");
  const rows = pairs.map((pair) => {
    const row = document.createElement("tr");
    row.dataset.pair = pair.name;
    row.className = pair.passes ? "passes" : "fails";
    const sample = document.createElement("span");
    sample.className = "sample";
    sample.dataset.text = pair.text;
    sample.dataset.background = pair.background;
    sample.textContent = "Aa";
    const cells = [pair.label, [sample, ` ${pair.text} / ${pair.background}`], `${pair.contrast}:1`,
      pair.passes ? table.dataset.passes : table.dataset.fails];
    for (const [index, content] of cells.entries()) {
      const cell = document.createElement("td");
      cell.append(...[].concat(content));
      if (index === 2) cell.className = "ratio";
      if (index === 3) cell.className = "verdict";
      row.append(cell);
    }
    return row;
  });
  table.tBodies[0].replaceChildren(...rows);
  paintSamples(table);
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.page === "admin-brand") startBrandEditor();
});
