// Building the page.  Text always goes in as text nodes, never as HTML, so
// a product named <img src=x onerror=alert(1)> shows exactly those characters.

import { formatCount, formatMoney, t } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

let fieldCount = 0;

// A labelled input: [wrapper, input].
export function field(label, attrs = {}) {
  const id = `f${++fieldCount}`;
  const input = attrs.multiline
    ? h("textarea", { id, name: attrs.name, rows: 3, maxlength: attrs.maxlength, required: attrs.required })
    : h("input", { id, type: "text", ...attrs });
  // A textarea's default value is its text (what a reset, and keepTyped in
  // ui.js, compare with).
  if (attrs.multiline && attrs.value) input.defaultValue = attrs.value;
  const wrapper = h("div", { class: "field" }, h("label", { for: id }, label), input);
  // A length limit shows as one types, rather than typing stopping silently.
  if (attrs.maxlength && attrs.type !== "password") {
    const count = h("span", { class: "count muted", "aria-live": "polite" });
    const shown = () => {
      count.textContent = input.value ? t("{n} of {max} characters", { n: formatCount(input.value.length), max: formatCount(attrs.maxlength) }) : "";
    };
    input.addEventListener("input", shown);
    wrapper.append(count);
  }
  return [wrapper, input];
}

/**
 * Sets a field's value as if typed, so what follows its input (the length
 * count) follows a value set by the page too.
 * @param {HTMLInputElement | HTMLTextAreaElement} input
 * @param {string} value
 */
export function setValue(input, value) {
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

// A form whose submit runs `action(values)`; errors show inside the form.
export function form(title, fields, submitText, action, extra = {}) {
  const inputs = {};
  const parts = [];
  for (const [name, label, attrs] of fields) {
    const [wrapper, input] = field(label, { name, ...(attrs || {}) });
    inputs[name] = input;
    parts.push(wrapper);
  }
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite", id: `s${++fieldCount}` });
  const button = h("button", { type: "submit", class: extra.secondary ? "secondary" : "primary" }, submitText);
  const node = h(
    "form",
    { class: `card form ${extra.class || ""}`, novalidate: true },
    title ? h("h2", {}, title) : null,
    parts,
    h("div", { class: "actions" }, button),
    status,
  );
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const [name, input] of Object.entries(inputs)) values[name] = input.value;
    button.disabled = true;
    say(status, "");
    for (const input of Object.values(inputs)) valid(input);
    try {
      const done = await action(values, inputs);
      if (typeof done === "string") say(status, done, "ok");
    } catch (error) {
      say(status, error.human || error.message, "error");
      // The field the error is about (named by the check that failed, or
      // by the answer's error.field) points at it.
      const input = inputs[error.field || error.argument];
      if (input) {
        // Said at the field, in place of the form's line; the field gets
        // the focus, so that the message is in view (on a phone too).
        say(status, "");
        invalid(input, fieldNote(input, error.human || error.message));
        input.focus();
      }
    } finally {
      button.disabled = false;
    }
  });
  node.inputs = inputs;
  node.status = status;
  return node;
}

// A field marked wrong, pointing at the message that says why (read out
// by a screen reader with the field); valid() takes the mark away.
export function invalid(input, message) {
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", message.id);
}

export function valid(input) {
  input.removeAttribute("aria-invalid");
  input.removeAttribute("aria-describedby");
  const note = input.parentElement && input.parentElement.querySelector(".field-error");
  if (note) note.remove();
}

// A message under a form's field, saying what is wrong with it.
function fieldNote(input, text) {
  const note = h("p", { class: "field-error error", id: `${input.id}-error`, role: "alert" }, text);
  input.after(note);
  return note;
}

// An error a check of the page's own makes: its sentence, and the field.
export function mistake(human, field = null) {
  return Object.assign(new Error(human), { human, field });
}

export function say(node, text, kind = "") {
  // One outcome at a time: a new message clears the page's older "done"
  // ones, so no green "Saved." stays beside a new error.
  if (text) {
    for (const old of document.querySelectorAll(".form-status.ok")) {
      if (old !== node) say(old, "");
    }
  }
  node.textContent = text;
  node.className = `${node.className.split(" ")[0]} ${kind}`.trim();
}

export function money(text) {
  return formatMoney(text);
}
