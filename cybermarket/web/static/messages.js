// Server answers that are errors, as sentences for people.  The server's
// own message names the field or the products; these add what to do.

const FIELDS = {
  username: "username",
  storename: "store name",
  email: "email address",
  password: "password",
  new_password: "new password",
  old_password: "current password",
  productname: "product name",
  description: "description",
  price: "price",
  quantity: "quantity",
  stock: "stock",
  code: "invitation code",
  inviter: "inviting store",
  login: "login",
  query: "search",
};

function fieldOf(message) {
  const match = /^([a-z_]+):\s*(.*)$/.exec(message || "");
  return match ? [FIELDS[match[1]] || match[1], match[2]] : [null, message];
}

export function explain(error, cart = []) {
  const status = error.status;
  const [field, detail] = fieldOf(error.message);
  switch (status) {
    case 0:
      return "The connection to the shop was lost. Please try again in a moment.";
    case 400:
      if (field) return `Please check the ${field}: ${detail}.`;
      return `That did not work: ${error.message}.`;
    case 401:
      if (/LOGIN$/.test(error.op)) return "That login and password do not match.";
      if (error.op === "RESUME") return "Your session has ended. Please log in again.";
      return "Please log in first.";
    case 403:
      if (/PASSWORD/.test(error.op)) return "Your current password is not right.";
      return "You are not allowed to do that.";
    case 404:
      if (error.op === "CLIENT_ADD_ITEM") return "That product is no longer on sale.";
      if (error.op === "LIST_PRODUCT" || error.op === "SEARCH_PRODUCT") return "That store does not exist.";
      return "That could not be found; it may have just been removed.";
    case 406:
      return "That invitation code is not valid: it may be used, expired, or from another store.";
    case 409:
      if (error.op === "CLIENT_CHECKOUT_ITEM") return shortOfStock(error.message, cart);
      if (field) return `That ${field} is already taken. Please choose another.`;
      return `That could not be done: ${error.message}.`;
    case 413:
      return "That is too long to send.";
    case 429:
      return `Too many attempts: ${detail || error.message}.`;
    case 503:
      return "The shop is busy or restarting. Please try again in a moment.";
    default:
      return "Something went wrong on our side. Please try again.";
  }
}

function shortOfStock(message, cart) {
  const ids = [...(message || "").matchAll(/product_id (\d+)/g)].map((m) => Number(m[1]));
  const names = cart.filter((line) => ids.includes(line.product_id)).map((line) => line.productname);
  const list = names.length ? names.join(", ") : message.replace(/^.*?:\s*/, "");
  return `Sorry, not enough stock left for ${list}. Nothing was charged and your cart is unchanged.`;
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
