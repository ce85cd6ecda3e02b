// Server answers that are errors, as sentences for people, chosen by the
// answer's code (protocol 1.2) and its keys, never by its message's text.

import { formatMoney, list, t, tn } from "./i18n.js";

// Field names are part of the protocol; people read these instead.
const FIELDS = {
  username: t("username"),
  storename: t("store name"),
  email: t("email address"),
  password: t("password"),
  new_password: t("new password"),
  old_password: t("current password"),
  productname: t("product name"),
  description: t("description"),
  price: t("price"),
  quantity: t("quantity"),
  stock: t("stock"),
  code: t("invitation code"),
  inviter: t("inviting store"),
  login: t("login"),
  query: t("search"),
};

const WHAT = {
  store: t("That store does not exist."),
  product: t("That product is no longer on sale."),
  order: t("That order could not be found."),
  cart_line: t("That product is not in your cart any more."),
};

const STATUS = {
  placed: t("placed"),
  shipped: t("shipped"),
  cancelled: t("cancelled"),
  partial: t("partly shipped or cancelled"),
};

// An order's status (or a store's part's) in words.
export function statusName(status) {
  return STATUS[status] || status;
}

// A sentence for an answer of status 400 or more, decided by its status and
// code (protocol 1.2) and the code's keys; the server's message, already in
// the page's language, is only ever shown, never read.  `cart`: the lines
// as last shown, to name products by their names.
export function explain(error, cart = []) {
  const message = error.message;
  const extra = error.error || {};
  switch (error.code) {
    case "invalid_argument": {
      const field = FIELDS[extra.field] || extra.field;
      if (field) return t("Please check the {field} ({message}).", { field, message });
      return t("That did not work: {message}.", { message });
    }
    case "malformed":
    case "already_logged_in":
      return t("That did not work: {message}.", { message });
    case "empty_cart":
      return t("Your cart is empty.");
    case "bad_credentials":
      if (error.op === "RESUME") return t("Your session has ended. Please log in again.");
      return t("That login and password do not match.");
    case "not_logged_in":
      return t("Please log in first.");
    case "wrong_password":
      return t("Your current password is not right.");
    case "not_yours":
      return t("You are not allowed to do that.");
    case "not_found":
      return WHAT[extra.what] || t("That could not be found; it may have just been removed.");
    case "bad_invitation":
      return t("That invitation code is not valid: it may be used, expired, or from another store.");
    case "name_taken":
      return t("That {field} is already taken. Please choose another.", { field: FIELDS[extra.field] || extra.field || t("name") });
    case "short_of_stock":
      return shortOfStock(extra.products, cart);
    case "total_changed":
      return t("The total is now {total}: a price changed. Nothing was charged.", { total: formatMoney(extra.total) });
    case "too_large":
      return t("That order is too large to be taken. Please split it.");
    case "not_placed":
      return t("That order is already {status}: it can no longer be changed.", { status: statusName(extra.status) });
    case "frame_too_large":
      return t("That is too long to send.");
    case "throttled":
      return tn("Too many attempts. Please try again in {n} second.", "Too many attempts. Please try again in {n} seconds.", Number(extra.retry_after) || 1);
    case "unavailable":
      return t("The shop is busy or restarting. Please try again in a moment.");
    case "internal":
      return t("Something went wrong on our side. Please try again.");
    default:
      return byStatus(error);
  }
}

// A server before protocol 1.2 (no `error`), or the connection lost.
function byStatus(error) {
  const message = error.message;
  switch (error.status) {
    case 0:
      return t("The connection to the shop was lost. Please try again in a moment.");
    case 400:
    case 409:
      return t("That did not work: {message}.", { message });
    case 401:
      if (/LOGIN$/.test(error.op)) return t("That login and password do not match.");
      return t("Please log in first.");
    case 403:
      return t("You are not allowed to do that.");
    case 404:
      return t("That could not be found; it may have just been removed.");
    case 406:
      return t("That invitation code is not valid: it may be used, expired, or from another store.");
    case 413:
      return t("That is too long to send.");
    case 429:
      return t("Too many attempts: {detail}.", { detail: message });
    case 503:
      return t("The shop is busy or restarting. Please try again in a moment.");
    default:
      return t("Something went wrong on our side. Please try again.");
  }
}

// short_of_stock's `products`: each short line by its name, with what is
// left of it (none when it is off the shelf).
function shortOfStock(products, cart) {
  const names = (Array.isArray(products) ? products : []).map((p) => {
    const line = cart.find((l) => l.product_id === p.product_id);
    const name = line ? line.productname : t("product #{id}", { id: p.product_id });
    if (p.on_shelf === false) return t("{name} (no longer on sale)", { name });
    return tn("{name} ({n} left)", "{name} ({n} left)", Math.max(0, Number(p.stock) || 0), { name });
  });
  if (!names.length) return t("Sorry, the stock changed. Nothing was charged and your cart is unchanged.");
  return t("Sorry, not enough stock left for {list}. Nothing was charged and your cart is unchanged.", { list: list(names) });
}

// Wraps a promise so that its error carries the sentence (error.human).
export async function human(promise, cart) {
  try {
    return await promise;
  } catch (error) {
    error.human = explain(error, cart);
    throw error;
  }
}
