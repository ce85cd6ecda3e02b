// What both pages share: the connection notice, paging, and a main area
// that a route renders into.

import { h, replace } from "./dom.js";
import { formatDate, t } from "./i18n.js";

export function notices(market) {
  const notice = document.getElementById("notice");
  let hideTimer = null;
  market.addEventListener("disconnected", () => {
    delete document.body.dataset.connected;
    clearTimeout(hideTimer);
    notice.hidden = false;
    notice.className = "notice warn";
    notice.textContent = t("Connection lost. Reconnecting…");
  });
  market.addEventListener("connected", (event) => {
    if (event.detail.first) return;
    notice.className = "notice ok";
    notice.textContent = t("Reconnected.");
    hideTimer = setTimeout(() => {
      notice.hidden = true;
    }, 2500);
  });
}

// The page drawn again once connected (it may have been drawn before,
// without what only the server knows), then marked `data-connected` on
// <body>: from then on no redraw of the connection's comes under what is
// typed (a program driving the page waits for it).
/** @param {() => Promise<void>} render */
export function redrawConnected(render) {
  return render().then(() => {
    document.body.dataset.connected = "";
  });
}

// What a visitor typed into the forms of `from` (and where the focus was),
// carried over to the same-named fields of the same forms in `to`: a page
// rendered again in place (once connected, after a reconnect) must not
// wipe a half-filled form.  Fields left as rendered are not touched.
function keepTyped(from, to) {
  const oldForms = from.querySelectorAll("form");
  const newForms = to.querySelectorAll("form");
  oldForms.forEach((oldForm, n) => {
    const newForm = newForms[n];
    if (!newForm) return;
    for (const old of oldForm.querySelectorAll("input[name], textarea[name]")) {
      const now = newForm.querySelector(`[name="${CSS.escape(old.name)}"]`);
      if (!now || now.tagName !== old.tagName || now.type !== old.type) continue;
      if (old.value !== old.defaultValue && now.value === now.defaultValue) now.value = old.value;
      if (document.activeElement === old) now.focus({ preventScroll: true });
    }
  });
}

// The hash's path ("/store/Tea") and its query ("q=green"): what a page
// keeps in the address (a search) comes after a "?", so that a reload and
// Back bring it back.
function where() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const at = hash.indexOf("?");
  return at < 0 ? [hash, ""] : [hash.slice(0, at) || "/", hash.slice(at + 1)];
}

// A value kept in the address's query, or "".
export function fromAddress(name) {
  return new URLSearchParams(where()[1]).get(name) || "";
}

// Keeps a value in the address's query (none when empty), replacing the
// history entry: typing is not a step for Back.
export function toAddress(name, value) {
  const [path, query] = where();
  const params = new URLSearchParams(query);
  if (value) params.set(name, value);
  else params.delete(name);
  const rest = params.toString();
  history.replaceState(history.state, "", `#${path}${rest ? `?${rest}` : ""}`);
}

// Where each page of this tab's history was scrolled to, by a key kept in
// its history entry (toAddress keeps the entry's state): Back to a list
// from a product's page returns to the same place in it.  The browser's
// own restoring comes too early, before the page it would scroll is drawn.
const scrolled = new Map();
let scrollKeys = 0;

function scrollKey() {
  return history.state && typeof history.state.scrollKey === "string" ? history.state.scrollKey : null;
}

// After a page is drawn: a page visited before (Back, Forward) scrolls to
// where it was left, a new one starts at its top, and one drawn again in
// place (a reconnect) stays as it is.
function placeScroll(moved) {
  const key = scrollKey();
  if (key && scrolled.has(key)) {
    if (moved) scrollBack(scrolled.get(key));
    return;
  }
  if (!key) history.replaceState({ ...history.state, scrollKey: `${Date.now()}-${++scrollKeys}` }, "");
  if (moved) window.scrollTo(0, 0);
}

// Scrolls to y; where part of the page comes after it is drawn (a search
// kept in the address runs again), again as it grows, for a few seconds,
// until the person scrolls or goes elsewhere.
function scrollBack(y) {
  window.scrollTo(0, y);
  if (Math.abs(window.scrollY - y) < 1) return;
  const main = document.getElementById("main");
  const growing = new ResizeObserver(() => {
    window.scrollTo(0, y);
    if (Math.abs(window.scrollY - y) < 1) stop();
  });
  const stop = () => {
    growing.disconnect();
    clearTimeout(timer);
    for (const kind of ["wheel", "touchstart", "keydown", "hashchange"]) window.removeEventListener(kind, stop);
  };
  const timer = setTimeout(stop, 3000);
  for (const kind of ["wheel", "touchstart", "keydown", "hashchange"]) window.addEventListener(kind, stop, { passive: true });
  growing.observe(main);
}

// Renders the route for location.hash into <main>; a newer render wins.
export function router(routes, fallback) {
  const main = document.getElementById("main");
  let current = 0;
  let shown = null; // the hash of what <main> shows
  // The history entry of what <main> shows: a scroll is the place in that
  // page.  Not scrollKey(), which Back changes at once, while the scroll
  // event of the page still drawn (its own scrollTo, a layout) comes a
  // frame later and would be taken for the place in the page Back goes to.
  let drawnKey = null;
  history.scrollRestoration = "manual";
  window.addEventListener(
    "scroll",
    () => {
      if (drawnKey) scrolled.set(drawnKey, window.scrollY);
    },
    { passive: true },
  );
  async function render() {
    const mine = ++current;
    const [hash] = where();
    let view = null;
    let params = [];
    for (const [pattern, handler] of routes) {
      const match = pattern.exec(hash);
      if (match) {
        view = handler;
        params = match.slice(1).map(decodeURIComponent);
        break;
      }
    }
    view = view || fallback;
    const stale = () => mine !== current;
    try {
      const content = await view(...params, stale);
      if (!stale() && content) {
        const moved = hash !== shown;
        if (!moved) keepTyped(main, content);
        replace(main, content);
        shown = hash;
        placeScroll(moved);
        drawnKey = scrollKey();
      }
    } catch (error) {
      if (!stale()) replace(main, h("p", { class: "error" }, error.human || error.message));
    }
    for (const link of document.querySelectorAll("nav a")) {
      const target = link.getAttribute("href");
      const here = target === `#${hash}` || (target !== "#/" && `#${hash}`.startsWith(target));
      if (here) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }
  window.addEventListener("hashchange", () => {
    render().then(() => document.getElementById("main").focus({ preventScroll: true }));
  });
  return render;
}

// A "More" button that appends the next page: load(after) -> {items, next}.
export function pager(container, load, renderItem, label = null) {
  const more = h("button", { type: "button", class: "secondary more" }, label || t("Show more"));
  const wrap = h("div", { class: "pager" }, more);
  let after = null;
  async function next() {
    more.disabled = true;
    const page = await load(after);
    for (const item of page.items) container.append(renderItem(item));
    after = page.next;
    more.hidden = after === null || after === undefined || page.items.length === 0;
    more.disabled = false;
    return page;
  }
  more.addEventListener("click", () => next());
  return { node: wrap, next };
}

export function rowsOf(table) {
  return table.rows.map((row) => Object.fromEntries(table.columns.map((c, i) => [c, row[i]])));
}

export function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : formatDate(date);
}
