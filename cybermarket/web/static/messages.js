// Server answers that are errors, as sentences for people.  The server's
// own message (already in the page's language, see SET_LANGUAGE in net.js)
// names the field or the products; these add what to do.

import { list, t } from "./i18n.js";

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

// The protocol's name of the field a server's message is about, or null.
export function fieldName(message) {
  const match = /^([a-z_]+):\s/.exec(message || "");
  return match ? match[1] : null;
}

function fieldOf(message) {
  const match = /^([a-z_]+):\s*(.*)$/.exec(message || "");
  return match ? [FIELDS[match[1]] || match[1], match[2]] : [null, message];
}

export function explain(error, cart = []) {
  const status = error.status;
  const message = error.message;
  const [field, detail] = fieldOf(message);
  switch (status) {
    case 0:
      return t("The connection to the shop was lost. Please try again in a moment.");
    case 400:
      if (field) return t("Please check the {field}: {detail}.", { field, detail });
      return t("That did not work: {message}.", { message });
    case 401:
      if (/LOGIN$/.test(error.op)) return t("That login and password do not match.");
      if (error.op === "RESUME") return t("Your session has ended. Please log in again.");
      return t("Please log in first.");
    case 403:
      if (/PASSWORD/.test(error.op)) return t("Your current password is not right.");
      return t("You are not allowed to do that.");
    case 404:
      if (error.op === "CLIENT_ADD_ITEM") return t("That product is no longer on sale.");
      if (error.op === "LIST_PRODUCT" || error.op === "SEARCH_PRODUCT") return t("That store does not exist.");
      return t("That could not be found; it may have just been removed.");
    case 406:
      return t("That invitation code is not valid: it may be used, expired, or from another store.");
    case 409:
      if (error.op === "CLIENT_CHECKOUT_ITEM") return shortOfStock(message, cart);
      if (field) return t("That {field} is already taken. Please choose another.", { field });
      return t("That could not be done: {message}.", { message });
    case 413:
      return t("That is too long to send.");
    case 429:
      return t("Too many attempts: {detail}.", { detail: detail || message });
    case 503:
      return t("The shop is busy or restarting. Please try again in a moment.");
    default:
      return t("Something went wrong on our side. Please try again.");
  }
}

function shortOfStock(message, cart) {
  const ids = [...(message || "").matchAll(/product_id (\d+)/g)].map((m) => Number(m[1]));
  const names = cart.filter((line) => ids.includes(line.product_id)).map((line) => line.productname);
  const products = names.length ? list(names) : (message || "").replace(/^.*?:\s*/, "");
  return t("Sorry, not enough stock left for {list}. Nothing was charged and your cart is unchanged.", { list: products });
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
