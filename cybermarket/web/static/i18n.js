// The storefront's and the console's words in English, Simplified Chinese
// and Russian.  The language is the one chosen with the switcher
// (remembered in localStorage), else the best of the browser's languages,
// matched as the server matches tags: by language and script after CLDR's
// likely subtags (Intl.Locale.maximize), so zh-TW (Traditional) is not
// zh-CN.  The server is asked for the same language (SET_LANGUAGE, net.js).
// The words are the English text itself, looked up in catalog.js, which
// `make messages` writes from the same gettext catalogs as the server's
// messages (cybermarket/locale/*/LC_MESSAGES/web.po); tests/test_i18n.py
// fails when a word the pages use lacks a translation.

import { CATALOGS } from "./catalog.js";

export const LANGUAGES = { en: "English", "zh-CN": "简体中文", ru: "Русский" };
const KEY = "cybermarket.language";

// The server's language for a tag, or null: language and script compared
// after filling in likely subtags.
export function matchTag(tag) {
  let full;
  try {
    full = new Intl.Locale(tag).maximize();
  } catch {
    return null;
  }
  if (full.language === "zh" && full.script === "Hans") return "zh-CN";
  if (full.language === "ru" && full.script === "Cyrl") return "ru";
  if (full.language === "en" && full.script === "Latn") return "en";
  return null;
}

function chosen() {
  const saved = localStorage.getItem(KEY);
  if (saved && saved in LANGUAGES) return saved;
  for (const tag of navigator.languages || [navigator.language]) {
    const found = matchTag(tag);
    if (found) return found;
  }
  return "en";
}

export const language = chosen();
document.documentElement.lang = language;

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

// A word or sentence in the page's language; {name} placeholders filled in
// with values, which are never translated.
export function t(key, params = {}) {
  const text = (CATALOGS[language] || {})[key];
  return fill(typeof text === "string" && text ? text : key, params);
}

// A sentence with a count n, as gettext's ngettext: the English singular
// and plural, and in other languages the form the language's rules
// (Intl.PluralRules, CLDR) choose: Russian one/few/many; Chinese has one.
const plurals = new Intl.PluralRules(language);
export function tn(one, other, n, params = {}) {
  const category = plurals.select(n);
  const entry = (CATALOGS[language] || {})[one];
  let text = category === "one" ? one : other;
  if (typeof entry === "string" && entry) text = entry;
  else if (entry && typeof entry === "object") text = entry[category] || entry.other || text;
  return fill(text, { n: new Intl.NumberFormat(language).format(n), ...params });
}

// A translated sentence as pieces for h(): the placeholders become the
// values given, which may be elements ("Signed in as {name}" with <strong>).
export function parts(key, params = {}) {
  const text = t(key);
  return text.split(/(\{\w+\})/).map((piece) => {
    const match = /^\{(\w+)\}$/.exec(piece);
    return match && match[1] in params ? params[match[1]] : piece;
  });
}

// Names joined as the language joins a list ("a, b and c", "a、b和c").
export function list(names) {
  return new Intl.ListFormat(language, { style: "long", type: "conjunction" }).format(names);
}

export function setLanguage(tag) {
  localStorage.setItem(KEY, tag);
  location.reload();
}

// Words written in the HTML: elements with data-i18n hold their key, and
// data-i18n-label the key of their aria-label.
export function translatePage(root = document) {
  /** @type {NodeListOf<HTMLElement>} */
  const texts = root.querySelectorAll("[data-i18n]");
  for (const node of texts) node.textContent = t(node.dataset.i18n);
  /** @type {NodeListOf<HTMLElement>} */
  const labels = root.querySelectorAll("[data-i18n-label]");
  for (const node of labels) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
}

// The switcher: a labelled select; choosing reloads the page in the language.
export function switcher() {
  const select = document.createElement("select");
  select.id = "language";
  select.setAttribute("aria-label", t("Language"));
  for (const [tag, name] of Object.entries(LANGUAGES)) {
    const option = document.createElement("option");
    option.value = tag;
    option.lang = tag;
    option.textContent = name;
    option.selected = tag === language;
    select.append(option);
  }
  select.addEventListener("change", () => setLanguage(select.value));
  return select;
}

// An amount from its exact decimal string ("19.99"): the whole part
// formatted by Intl as a BigInt (exact at any size), the fraction digits
// copied as they are; never through a float.
export function formatMoney(text) {
  const [whole, fraction = ""] = String(text).split(".");
  const format = new Intl.NumberFormat(language, {
    style: "currency",
    currency: "USD",
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  return format
    .formatToParts(BigInt(whole || "0"))
    .map((part) => (part.type === "fraction" ? fraction.padEnd(2, "0").slice(0, 2) : part.value))
    .join("");
}

export function formatCount(n) {
  return new Intl.NumberFormat(language).format(n);
}

export function formatDate(date) {
  return date.toLocaleString(language, { dateStyle: "medium", timeStyle: "short" });
}
