// The storefront: stores, products, search, cart, checkout, orders and the
// customer's account.

import { field, form, h, invalid, money, replace, say } from "./dom.js";
import { formatCount, list, parts, switcher, t, tn, translatePage } from "./i18n.js";
import { explain, human, statusName } from "./messages.js";
import { Market } from "./net.js";
import { fromAddress, notices, pager, redrawConnected, router, rowsOf, toAddress, when } from "./ui.js";

const market = new Market("cybermarket.client.token", "CLIENT_LOGOUT");
translatePage();
document.getElementById("language-switcher").replaceWith(switcher());
const PAGE = 24;
// The delivery address typed at the last checkout, kept in this browser
// only (it goes to the server with a checkout and nowhere else) and
// forgotten when the session ends, in every tab.
const ADDRESS_KEY = "cybermarket.client.address";
const ADDRESS_MAX = 500;
let cart = []; // the cart's lines as last read, for naming short products

function loggedIn() {
  return market.account && market.account.role === "client";
}

function call(op, args) {
  return human(market.call(op, args), cart);
}

// --- photos ----------------------------------------------------------------------

// The address of a product's own page.
function productAddress(product) {
  return `#/product/${product.product_id}`;
}

// The shape of the box a thumbnail sits in (style.css gives it the same):
// the size is known before the image arrives, so nothing moves as it loads.
const THUMB = { width: 400, height: 300 };
const LARGE = { width: 1600, height: 1600 };
const SVG = "http://www.w3.org/2000/svg";

// A picture frame drawn in the text's colour, for a product with no photo:
// plain shapes in the page, so it follows light and dark mode and is
// never a broken image.
function noPhoto() {
  const svg = drawn("svg", { viewBox: "0 0 48 48", "aria-hidden": "true", focusable: "false" });
  svg.append(drawn("rect", { x: 6, y: 10, width: 36, height: 28, rx: 3 }), drawn("circle", { cx: 17, cy: 20, r: 3.5 }), drawn("path", { d: "M6 34 18 25l7 5 7-7 10 9" }));
  return h("span", { class: "photo-none" }, svg, h("span", { class: "visually-hidden" }, t("No photo")));
}

// An SVG element (h() makes HTML ones, which draw nothing in an <svg>).
function drawn(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

// A product's photo (protocol 1.3's `photo` path, at `size`) in a box of
// fixed shape, or the placeholder.  `link`: the box leads to the product's
// page, as its name does (so the keyboard and screen readers meet that
// link once, at the name).
function photoBox(product, size = "thumb", link = true) {
  const box = size === "large" ? LARGE : THUMB;
  const inner = product.photo
    ? h("img", {
        class: "photo",
        src: `${product.photo}?size=${size}`,
        width: box.width,
        height: box.height,
        // The product's page is for its photo: at once; a list's load as
        // they scroll into view.
        loading: size === "large" ? "eager" : "lazy",
        decoding: "async",
        alt: product.productname,
      })
    : noPhoto();
  if (!link) return h("div", { class: `photo-box ${size}` }, inner);
  return h("a", { class: `photo-box ${size}`, href: productAddress(product), tabindex: -1, "aria-hidden": "true" }, inner);
}

// --- products ---------------------------------------------------------------

function stockLabel(stock) {
  if (stock <= 0) return h("span", { class: "stock out" }, t("Sold out"));
  if (stock <= 5) return h("span", { class: "stock low" }, tn("Only {n} left", "Only {n} left", stock));
  return h("span", { class: "stock in" }, t("In stock"));
}

// Quantity and Add to cart for a product on the shelf (null when none is
// left), on its card and on its own page alike; outcomes go to `status`.
function buyForm(product, status) {
  let buy = null;
  if (product.stock > 0) {
    const id = `qty-${product.product_id}`;
    const quantity = h("input", {
      id,
      type: "number",
      min: 1,
      max: Math.min(product.stock, 1000000),
      value: 1,
      inputmode: "numeric",
      class: "qty",
    });
    const button = h("button", { type: "submit", class: "primary" }, t("Add to cart"));
    buy = h(
      "form",
      { class: "buy", novalidate: true },
      h("label", { for: id, class: "visually-hidden" }, t("Quantity of {name}", { name: product.productname })),
      quantity,
      button,
    );
    buy.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!loggedIn()) {
        say(status, t("Please log in (Account) to add items to your cart."), "error");
        return;
      }
      // 1.5 is not 1: a count that is not whole is refused, not rounded.
      const count = Number(quantity.value.trim());
      if (!Number.isInteger(count) || count < 1) {
        say(status, t("Please enter a whole number of 1 or more."), "error");
        return;
      }
      // More than is left would only be refused at checkout: say it now.
      const inCart = cart.filter((line) => line.product_id === product.product_id).reduce((sum, line) => sum + line.quantity, 0);
      if (count + inCart > product.stock) {
        const room = Math.max(0, product.stock - inCart);
        say(status, inCart ? tn("Only {n} left, and {count} already in your cart.", "Only {n} left, and {count} already in your cart.", product.stock, { count: formatCount(inCart) }) : tn("Only {n} left: please choose {n} or fewer.", "Only {n} left: please choose {n} or fewer.", product.stock), "error");
        if (room) quantity.value = String(room);
        return;
      }
      button.disabled = true;
      try {
        await call("CLIENT_ADD_ITEM", { product_id: product.product_id, quantity: count });
        say(status, tn("Added {n} item to your cart.", "Added {n} items to your cart.", count), "ok");
        refreshCartCount();
      } catch (error) {
        say(status, error.human, "error");
      } finally {
        button.disabled = false;
      }
    });
  }
  return buy;
}

function productCard(product) {
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
  const buy = buyForm(product, status);
  return h(
    "article",
    { class: "product card", "data-product-id": product.product_id },
    photoBox(product),
    h("h3", { class: "product-name" }, h("a", { href: productAddress(product) }, product.productname)),
    h("p", { class: "store-name muted" }, product.storename),
    h("p", { class: "description clamp tall", title: product.description || null }, product.description),
    h("div", { class: "meta" }, h("span", { class: "price" }, money(product.price)), stockLabel(product.stock)),
    buy,
    status,
  );
}

// --- search ------------------------------------------------------------------

// The search box; `hide`: what the results replace while a search is on
// (a store's whole list).  The search is kept in the address (?q=).
function searchBox(storename, hide = []) {
  if (!market.features.search) return null;
  const results = h("div", { class: "grid", id: "search-results" });
  const summary = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const input = h("input", {
    id: "search",
    type: "search",
    placeholder: storename ? t("Search {store}", { store: storename }) : t("Search every store"),
    autocomplete: "off",
    maxlength: 200,
    value: fromAddress("q"),
  });
  const label = storename ? t("Search in {store}", { store: storename }) : t("Search products in every store");
  const section = h(
    "section",
    { class: "search", "aria-label": t("Search") },
    h("label", { for: "search", class: "visually-hidden" }, label),
    input,
    summary,
    results,
  );
  let timer = null;
  let asked = 0;
  let paging = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  async function run() {
    const query = input.value.trim();
    const mine = ++asked;
    results.replaceChildren();
    if (paging) paging.node.remove();
    toAddress("q", query);
    const searching = /[\p{L}\p{N}]/u.test(query);
    for (const node of hide) if (node) node.hidden = searching;
    if (!searching) {
      summary.textContent = "";
      section.classList.remove("active");
      return;
    }
    section.classList.add("active");
    summary.textContent = t("Searching…");
    const load = async (after) => {
      const args = { query, limit: PAGE };
      if (storename) args.storename = storename;
      if (after !== null) args.after = after;
      const data = await call("SEARCH_PRODUCT", args);
      return { items: mine === asked ? rowsOf(data) : [], next: data.next };
    };
    paging = pager(results, load, productCard, t("More results"));
    try {
      await paging.next();
      if (mine !== asked) return;
      section.append(paging.node);
      const n = results.children.length;
      summary.textContent = n ? t("Results for “{query}”", { query }) : t("Nothing found for “{query}”.", { query });
    } catch (error) {
      if (mine === asked) summary.textContent = error.human;
    }
  }
  // A search kept in the address (a reload, Back) runs at once.
  if (input.value.trim()) run();
  return section;
}

// --- views ---------------------------------------------------------------------

async function home() {
  const list = h("div", { class: "stores" });
  const load = async (after) => {
    const args = { limit: PAGE };
    if (after !== null) args.after = after;
    const data = await call("LIST_MERCHANT", args);
    return { items: rowsOf(data), next: data.next };
  };
  const storeCard = (store) =>
    h(
      "a",
      { class: "store card", href: `#/store/${encodeURIComponent(store.storename)}` },
      h("h3", {}, store.storename),
      // A few lines on the card (the whole text on the store's page, and
      // in the title).
      h("p", { class: "description clamp", title: store.description || null }, store.description || t("No description yet.")),
    );
  const paging = pager(list, load, storeCard, t("More stores"));
  const page = await paging.next();
  return h(
    "div",
    {},
    h("section", { class: "hero" }, h("h1", {}, t("Find something good")), h("p", { class: "lead" }, t("Independent stores, one cart."))),
    searchBox(null),
    h("h2", {}, t("Stores")),
    page.items.length ? list : h("p", { class: "muted" }, t("No stores have opened yet.")),
    paging.node,
  );
}

// A store's LIST_MERCHANT row (its description), or null: LIST_MERCHANT is
// ordered by name, so one page from just before the name holds it.
async function findStore(name) {
  try {
    const data = await market.call("LIST_MERCHANT", { after: name.slice(0, -1), limit: 50 });
    return rowsOf(data).find((s) => s.storename.toLowerCase() === name.toLowerCase()) || null;
  } catch {
    return null;
  }
}

async function store(name) {
  const grid = h("div", { class: "grid" });
  const load = async (after) => {
    const args = { storename: name, limit: PAGE };
    if (after !== null) args.after = after;
    const data = await call("LIST_PRODUCT", args);
    return { items: rowsOf(data), next: data.next };
  };
  const paging = pager(grid, load, productCard, t("More products"));
  const [page, about] = await Promise.all([paging.next(), findStore(name)]);
  const all = page.items.length ? grid : h("p", { class: "muted" }, t("This store has nothing on its shelves right now."));
  return h(
    "div",
    {},
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, t("Stores")), " / ", name),
    h("h1", {}, name),
    about && about.description ? h("p", { class: "description store-about" }, about.description) : null,
    // While searching, the results stand instead of the store's whole list.
    searchBox(name, [all, paging.node]),
    all,
    paging.node,
  );
}

// A product's own page (#/product/<id>): the large photo, the whole
// description, the stock and Add to cart, as GET_PRODUCT (protocol 1.3)
// has them now; a product off the shelf or unknown says so.
async function productView(id) {
  if (!/^\d{1,15}$/.test(id)) return notAvailable();
  let product;
  try {
    product = await market.call("GET_PRODUCT", { product_id: Number(id) });
  } catch (error) {
    if (error.code === "not_found" || error.status === 404 || error.code === "invalid_argument") return notAvailable();
    error.human = explain(error, cart);
    throw error;
  }
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
  const store = `#/store/${encodeURIComponent(product.storename)}`;
  return h(
    "article",
    { class: "product-page", "data-product-id": product.product_id },
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, t("Stores")), " / ", h("a", { href: store }, product.storename)),
    h(
      "div",
      { class: "product-layout" },
      photoBox(product, "large", false),
      h(
        "div",
        { class: "product-info" },
        h("h1", { class: "product-name" }, product.productname),
        h("p", { class: "muted" }, parts("Sold by {store}", { store: h("a", { class: "store-link", href: store }, product.storename) })),
        h("div", { class: "meta" }, h("span", { class: "price" }, money(product.price)), stockLabel(product.stock)),
        buyForm(product, status),
        status,
        // Text, never HTML; its line breaks kept (style.css).
        product.description ? h("p", { class: "description" }, product.description) : null,
      ),
    ),
  );
}

function notAvailable() {
  return h(
    "section",
    { class: "card narrow" },
    h("h1", { id: "not-available" }, t("This product is not available.")),
    h("p", {}, t("It may have been taken off the shelf, or the link may be mistyped.")),
    h("a", { class: "button primary", href: "#/" }, t("Browse the stores")),
  );
}

function needLogin(what) {
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, what),
    h("p", {}, t("Please log in to see this.")),
    h("a", { class: "button primary", href: "#/account" }, t("Log in or sign up")),
  );
}

function showCartCount(lines) {
  const badge = document.getElementById("cart-count");
  const count = lines.reduce((sum, line) => sum + line.quantity, 0);
  badge.textContent = String(count);
  badge.hidden = count === 0;
}

async function refreshCartCount() {
  const badge = document.getElementById("cart-count");
  if (!loggedIn()) {
    badge.hidden = true;
    return;
  }
  try {
    cart = rowsOf(await market.call("CLIENT_GET_ITEMS"));
    showCartCount(cart);
  } catch {
    badge.hidden = true;
  }
}

// --- the cart and checkout ------------------------------------------------------

// An amount as an exact number of cents, and back ("7.25" <-> 725n).
function cents(text) {
  const [whole, fraction = ""] = String(text).split(".");
  return BigInt(whole || "0") * 100n + BigInt(fraction.padEnd(2, "0").slice(0, 2) || "0");
}

function amount(n) {
  return `${n / 100n}.${String(n % 100n).padStart(2, "0")}`;
}

/**
 * A line of the cart as the server holds it, with its stock on hand (null
 * when unknown) and whether it is on the shelf.
 * @typedef {{storename: string, product_id: number, productname: string, price: string,
 *   quantity: number, on_shelf?: boolean, stock?: number | null}} Line
 */

// The cart, its total and each line's stock, read from the server now.
// Protocol 1.1's cart has no stock: it comes from the stores' LIST_PRODUCT
// (on-shelf products only), store by store, page by page until every line
// of that store is found.
/** @returns {Promise<{lines: Line[], total: string}>} */
async function readCart() {
  const [items, total] = await Promise.all([call("CLIENT_GET_ITEMS"), call("CLIENT_GET_PRICE")]);
  /** @type {Line[]} */
  const lines = rowsOf(items);
  const stock = new Map();
  const stores = [...new Set(lines.filter((l) => l.stock === undefined).map((l) => l.storename))];
  await Promise.all(
    stores.map(async (storename) => {
      const wanted = new Set(lines.filter((l) => l.storename === storename).map((l) => l.product_id));
      let after = null;
      try {
        do {
          const args = { storename, limit: 1000 };
          if (after !== null) args.after = after;
          const data = await market.call("LIST_PRODUCT", args);
          for (const product of rowsOf(data)) {
            if (wanted.delete(product.product_id)) stock.set(product.product_id, product.stock);
          }
          after = data.next === undefined ? null : data.next;
        } while (wanted.size && after !== null);
      } catch {
        // A store renamed meanwhile: its lines' stock stays unknown.
      }
    }),
  );
  for (const line of lines) {
    if (line.stock !== undefined) continue; // a server that sends it with the cart
    if (stock.has(line.product_id)) line.stock = stock.get(line.product_id);
    else line.stock = line.on_shelf === false ? 0 : null;
  }
  cart = lines;
  showCartCount(lines);
  return { lines, total };
}

/** @param {Line} line */
function offShelf(line) {
  return line.on_shelf === false;
}

/** @param {Line} line */
function short(line) {
  return !offShelf(line) && line.stock !== null && line.stock !== undefined && line.quantity > line.stock;
}

// What is wrong with the cart for a checkout, in the customer's words, or
// "": sentence(list) says it of the short lines.
/**
 * @param {Line[]} lines
 * @param {(names: string) => string} sentence
 */
function problems(lines, sentence) {
  const sentences = [];
  const shortLines = lines.filter(short).map((l) => tn("{name} ({n} left)", "{name} ({n} left)", l.stock, { name: l.productname }));
  if (shortLines.length) sentences.push(sentence(list(shortLines)));
  const gone = lines.filter(offShelf).map((l) => l.productname);
  if (gone.length) sentences.push(t("No longer on sale: {list}. Please remove it from your cart.", { list: list(gone) }));
  return sentences.join(" ");
}

/** @param {string} names */
function beforeCheckout(names) {
  return t("Sorry, not enough stock left for {list}. Please lower the quantity before checking out.", { list: names });
}

/** @param {Line} line */
function lineState(line) {
  if (offShelf(line)) return h("span", { class: "stock out" }, t("No longer on sale"));
  if (line.stock === null || line.stock === undefined) return null;
  if (short(line) && line.stock <= 0) return h("span", { class: "stock out" }, t("Sold out: please remove it"));
  if (short(line)) return h("span", { class: "stock out" }, tn("Only {n} left: lower the quantity", "Only {n} left: lower the quantity", line.stock));
  return stockLabel(line.stock);
}

async function cartView() {
  if (!loggedIn()) return needLogin(t("Your cart"));
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite", id: "cart-status" });
  const body = h("div", { class: "cart-body" });
  const section = h("section", { class: "cart" }, h("h1", {}, t("Your cart")), body, status);
  let shownTotal = "";
  /** @type {Line[]} */
  let shownLines = [];
  let busy = false;

  // Every change ends here: the page shows the cart as the server now holds it.
  async function refresh() {
    const { lines, total } = await readCart();
    show(lines, total);
    return { lines, total };
  }

  /** @param {Line[]} lines */
  function show(lines, total) {
    shownLines = lines;
    shownTotal = total;
    if (!lines.length) {
      replace(body, h("p", { class: "muted" }, t("Your cart is empty.")), h("a", { href: "#/" }, t("Browse the stores")));
      return;
    }
    const rows = lines.map((line) => {
      const id = `line-${line.product_id}`;
      const quantity = h("input", { id, type: "number", min: 1, value: line.quantity, class: "qty", inputmode: "numeric", "data-saved": line.quantity });
      const update = h("button", { type: "button", class: "secondary" }, t("Update"));
      const remove = h("button", { type: "button", class: "danger" }, t("Remove"));
      update.addEventListener("click", () => act(() => setQuantity(line, quantity.value)));
      // Enter in the box saves it, as Update does (key names in lower case).
      quantity.addEventListener("keydown", (event) => {
        if (event.key.toLowerCase() !== "enter") return;
        event.preventDefault();
        update.click();
      });
      remove.addEventListener("click", () => act(() => call("CLIENT_REMOVE_ITEM", { product_id: line.product_id })));
      return h(
        "tr",
        { "data-product-id": line.product_id },
        h(
          "td",
          { "data-label": t("Product") },
          h(
            "div",
            { class: "line-product" },
            photoBox(line),
            h("div", {}, h("strong", { class: "line-name", title: line.productname }, h("a", { href: productAddress(line) }, line.productname)), h("div", { class: "muted" }, line.storename), h("div", { class: "line-state" }, lineState(line))),
          ),
        ),
        h("td", { "data-label": t("Price"), class: "num" }, money(line.price)),
        h("td", { "data-label": t("Quantity") }, h("label", { for: id, class: "visually-hidden" }, t("Quantity of {name}", { name: line.productname })), quantity),
        h("td", { "data-label": "" }, h("div", { class: "row-actions" }, update, remove)),
      );
    });
    const warning = problems(lines, (names) => t("Not enough stock for {list}. Please lower the quantity before checking out.", { list: names }));
    const checkout = h("button", { type: "button", class: "primary big", id: "checkout" }, t("Check out"));
    checkout.addEventListener("click", () => act(review, false));
    replace(
      body,
      h(
        "table",
        { class: "lines cart-lines" },
        h("thead", {}, h("tr", {}, h("th", {}, t("Product")), h("th", { class: "num" }, t("Price")), h("th", {}, t("Quantity")), h("th", {}, h("span", { class: "visually-hidden" }, t("Actions"))))),
        h("tbody", {}, rows),
      ),
      h("div", { class: "total" }, h("span", {}, t("Total")), h("strong", { id: "cart-total", class: "num" }, money(total))),
      warning ? h("p", { class: "warning", id: "cart-warning" }, warning) : null,
      h("div", { class: "actions end" }, checkout),
    );
  }

  // One thing the customer asked for, then the cart read again; errors
  // (and only the latest outcome) in the status line.
  async function act(work, reread = true) {
    if (busy) return;
    busy = true;
    for (const button of section.querySelectorAll("button")) button.disabled = true;
    say(status, "");
    try {
      await work();
      if (reread) await refresh();
    } catch (error) {
      say(status, error.human || error.message, "error");
      // What the server holds now, whatever failed.
      await refresh().catch(() => {});
    } finally {
      busy = false;
      for (const button of section.querySelectorAll("button")) button.disabled = false;
    }
  }

  /** @param {Line} line */
  async function setQuantity(line, typed) {
    const wanted = Number(String(typed).trim());
    if (!Number.isInteger(wanted) || wanted < 1) throw Object.assign(new Error(), { human: t("Please enter a whole number of 1 or more for {name}.", { name: line.productname }) });
    if (wanted > line.quantity) {
      await call("CLIENT_ADD_ITEM", { product_id: line.product_id, quantity: wanted - line.quantity });
    } else if (wanted < line.quantity) {
      await call("CLIENT_REMOVE_ITEM", { product_id: line.product_id });
      await call("CLIENT_ADD_ITEM", { product_id: line.product_id, quantity: wanted });
    }
  }

  // Check out: quantities typed but not saved stop it; then the cart is
  // read again and shown for review, with anything short named.
  async function review() {
    /** @type {HTMLInputElement[]} */
    const boxes = [...body.querySelectorAll("input.qty")];
    const unsaved = boxes.filter((box) => box.value.trim() !== box.dataset.saved);
    if (unsaved.length) {
      const names = unsaved.map((box) => shownLines.find((l) => `line-${l.product_id}` === box.id).productname);
      say(status, t("You changed the quantity of {list} but did not save it: press Update, or put the number back.", { list: list(names) }), "error");
      unsaved[0].focus();
      return;
    }
    const before = shownTotal;
    const { lines, total } = await refresh();
    if (!lines.length) return;
    const wrong = problems(lines, beforeCheckout);
    if (wrong) {
      say(status, wrong, "error");
      return;
    }
    const note = total !== before ? t("The total changed from {before} to {now} since your cart was shown: a price changed. Please check it.", { before: money(before), now: money(total) }) : "";
    showReview(lines, total, note);
  }

  /** @param {Line[]} lines */
  function showReview(lines, total, note) {
    const place = h("button", { type: "submit", class: "primary big", id: "place-order" }, t("Place order"));
    const back = h("button", { type: "button", class: "secondary", id: "back-to-cart" }, t("Back to cart"));
    back.addEventListener("click", () => act(async () => {}));
    const [where, address] = field(t("Delivery address"), { name: "address", multiline: true, maxlength: ADDRESS_MAX, value: localStorage.getItem(ADDRESS_KEY) || "" });
    address.setAttribute("autocomplete", "street-address");
    address.rows = 4;
    const placing = h(
      "form",
      { class: "place", novalidate: true },
      h("div", { class: "total" }, h("span", {}, t("Total to pay")), h("strong", { id: "review-total", class: "num" }, money(total))),
      where,
      h("div", { class: "actions end" }, back, place),
    );
    placing.addEventListener("submit", (event) => {
      event.preventDefault();
      act(() => placeOrder(total, address), false);
    });
    replace(
      body,
      h("h2", { id: "review" }, t("Review your order")),
      note ? h("p", { class: "warning", id: "review-note" }, note) : null,
      h(
        "table",
        { class: "lines review-lines" },
        h("thead", {}, h("tr", {}, h("th", {}, t("Product")), h("th", { class: "num" }, t("Price")), h("th", { class: "num" }, t("Quantity")), h("th", { class: "num" }, t("Subtotal")))),
        h(
          "tbody",
          {},
          lines.map((line) =>
            h(
              "tr",
              { "data-product-id": line.product_id },
              h("td", { "data-label": t("Product") }, h("strong", { class: "line-name", title: line.productname }, line.productname), h("div", { class: "muted" }, line.storename)),
              h("td", { "data-label": t("Price"), class: "num" }, money(line.price)),
              h("td", { "data-label": t("Quantity"), class: "num line-quantity" }, formatCount(line.quantity)),
              h("td", { "data-label": t("Subtotal"), class: "num" }, money(amount(cents(line.price) * BigInt(line.quantity)))),
            ),
          ),
        ),
      ),
      placing,
    );
    (address.value.trim() ? place : address).focus();
  }

  // The order, for exactly the total that was reviewed: the server checks
  // it (protocol 1.2's expected_total) in the checkout's own transaction,
  // so a price changed meanwhile charges nothing and the review shows the
  // new total and asks again.
  /** @param {HTMLTextAreaElement} address */
  async function placeOrder(total, address) {
    // Optional, as in the protocol (something sent by email needs none).
    const where = address.value.trim();
    let order;
    try {
      const args = { expected_total: total };
      if (where) args.address = where;
      order = await market.call("CLIENT_CHECKOUT_ITEM", args);
    } catch (error) {
      error.human = explain(error, cart);
      if (error.code === "total_changed") {
        // The address typed stays for the review shown again.
        if (where) localStorage.setItem(ADDRESS_KEY, where);
        const now = await readCart();
        const wrong = problems(now.lines, beforeCheckout);
        if (wrong || !now.lines.length) {
          show(now.lines, now.total);
          if (wrong) say(status, wrong, "error");
          return;
        }
        showReview(now.lines, now.total, t("The total changed from {before} to {now} while you were reviewing: a price changed. Nothing was charged. Please check it and place the order again.", { before: money(total), now: money(now.total) }));
        return;
      }
      if (error.code === "invalid_argument" && error.argument === "address") {
        const note = h("p", { class: "field-error error", id: "address-error", role: "alert" }, error.human);
        address.parentElement.querySelector(".field-error")?.remove();
        address.after(note);
        invalid(address, note);
        address.focus();
        return;
      }
      if (error.code !== "short_of_stock") throw error;
      // Refused for stock: the answer names each short line with what is
      // left; the cart read again shows it line by line.
      await refresh();
      say(status, error.human, "error");
      return;
    }
    // Remembered for the next order, in this browser only (and forgotten
    // at logout, with the session).
    if (where) localStorage.setItem(ADDRESS_KEY, where);
    refreshCartCount();
    replace(
      section,
      h(
        "div",
        { class: "card narrow done" },
        h("h1", {}, t("Thank you!")),
        h("p", { id: "order-placed" }, t("Order #{id} is placed. Total {total}.", { id: order.order_id, total: money(order.total) })),
        where ? h("p", { class: "address", id: "order-address" }, where) : null,
        h("a", { class: "button primary", href: "#/orders" }, t("See your orders")),
      ),
    );
  }

  await refresh();
  return section;
}

// An order's lines (CLIENT_GET_ORDER) grouped by store: each store's part
// with its status and shipping note (protocol 1.2; a server before it
// sends neither, and the parts show no status).
function storeParts(lines) {
  /** @type {Map<string, {storename: string, status: string | undefined, note: string | null | undefined, lines: any[]}>} */
  const byStore = new Map();
  for (const line of lines) {
    if (!byStore.has(line.storename)) byStore.set(line.storename, { storename: line.storename, status: line.status, note: line.note, lines: [] });
    byStore.get(line.storename).lines.push(line);
  }
  return [...byStore.values()];
}

function statusPill(status) {
  if (!status) return null;
  return h("span", { class: `pill status-${status}`, "data-status": status }, statusName(status));
}

function partView(part) {
  return h(
    "section",
    { class: "order-part", "data-store": part.storename, "data-status": part.status || "" },
    h("div", { class: "part-head" }, h("h4", {}, part.storename), statusPill(part.status)),
    part.note ? h("p", { class: "ship-note" }, parts("Shipping note: {note}", { note: h("span", { class: "note-text" }, part.note) })) : null,
    h(
      "table",
      { class: "lines compact" },
      h(
        "tbody",
        {},
        part.lines.map((l) => h("tr", {}, h("td", { "data-label": t("Product") }, l.productname), h("td", { "data-label": t("Price paid"), class: "num" }, money(l.price)), h("td", { "data-label": t("Quantity"), class: "num" }, `× ${formatCount(l.quantity)}`))),
      ),
    ),
  );
}

async function ordersView() {
  if (!loggedIn()) return needLogin(t("Your orders"));
  const list = h("div", { class: "orders" });
  const load = async (after) => {
    const args = { limit: 20 };
    if (after !== null) args.after = after;
    const data = await call("CLIENT_LIST_ORDERS", args);
    const orders = rowsOf(data);
    // Each order's parts at once: their statuses and notes are the news.
    const details = await Promise.all(orders.map((o) => call("CLIENT_GET_ORDER", { order_id: o.order_id }).then(rowsOf, () => [])));
    return { items: orders.map((o, i) => ({ ...o, lines: details[i] })), next: data.next };
  };
  const paging = pager(list, load, orderCard, t("Older orders"));
  const page = await paging.next();
  return h("section", {}, h("h1", {}, t("Your orders")), page.items.length ? list : h("p", { class: "muted" }, t("No orders yet.")), paging.node);
}

// One order: its parts by store, where it goes, and Cancel while any part
// is still placed (asked once more in the page before anything is sent).
function orderCard(order) {
  const card = h("article", { class: "order card", "data-order-id": order.order_id });
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
  let outcome = null; // what the last cancel did, shown above the parts

  function show() {
    const actions = h("div", { class: "actions order-actions" });
    if (order.cancellable) {
      const cancel = h("button", { type: "button", class: "danger", "data-action": "cancel" }, t("Cancel order"));
      cancel.addEventListener("click", () => confirming(actions));
      actions.append(cancel);
    }
    replace(
      card,
      h("div", { class: "order-head" }, h("h3", {}, t("Order #{id}", { id: order.order_id })), h("span", { class: "muted" }, when(order.created_at)), statusPill(order.status), h("strong", { class: "num order-total" }, money(order.total))),
      order.address ? h("p", { class: "order-address" }, h("span", { class: "muted" }, t("Delivery address")), h("span", { class: "address" }, order.address)) : null,
      outcome,
      storeParts(order.lines).map(partView),
      actions,
      status,
    );
  }

  function confirming(actions) {
    const yes = h("button", { type: "button", class: "danger", "data-action": "confirm-cancel" }, t("Yes, cancel it"));
    const no = h("button", { type: "button", class: "secondary", "data-action": "keep" }, t("Keep the order"));
    no.addEventListener("click", show);
    yes.addEventListener("click", async () => {
      yes.disabled = no.disabled = true;
      try {
        const done = await call("CLIENT_CANCEL_ORDER", { order_id: order.order_id });
        outcome = h("p", { class: "ok refund", role: "status" }, t("Cancelled. {amount} is refunded ({stores}).", { amount: money(done.refunded), stores: list(done.cancelled) }));
      } catch (error) {
        outcome = h("p", { class: "error", role: "alert" }, error.human);
      }
      // What the server holds now, whatever happened.
      await reread().catch(() => {});
      show();
    });
    replace(actions, h("p", { class: "confirm" }, t("Cancel every part of this order that has not shipped? Those parts are refunded.")), yes, no);
    yes.focus();
  }

  // The order as the server holds it now: its lines with their parts'
  // statuses, and its row (status, cancellable) from the customer's list.
  async function reread() {
    const lines = rowsOf(await call("CLIENT_GET_ORDER", { order_id: order.order_id }));
    const data = await call("CLIENT_LIST_ORDERS", { after: order.order_id + 1, limit: 1 });
    const row = rowsOf(data).find((o) => o.order_id === order.order_id);
    Object.assign(order, row || {}, { lines });
  }

  show();
  return card;
}

// The account as the server holds it now (protocol 1.2's GET_ACCOUNT: the
// name as stored, the email), so that its forms open with the current
// values; a server without GET_ACCOUNT gives the login's name and no email.
/** @returns {Promise<{name: string, email: string}>} */
async function myAccount() {
  try {
    const me = await market.call("GET_ACCOUNT");
    return { name: me.name, email: me.email || "" };
  } catch {
    return { name: market.account ? market.account.name : "", email: "" };
  }
}

async function accountView() {
  if (!loggedIn()) {
    const login = form(
      t("Log in"),
      [
        ["login", t("Username or email"), { autocomplete: "username", required: true }],
        ["password", t("Password"), { type: "password", autocomplete: "current-password", required: true }],
      ],
      t("Log in"),
      async ({ login, password }) => {
        await human(market.login("CLIENT_LOGIN", "client", login.trim(), password));
        location.hash = "#/";
      },
      { class: "login" },
    );
    const signup = form(
      t("Create an account"),
      [
        ["username", t("Username"), { autocomplete: "username", required: true, maxlength: 64 }],
        ["email", t("Email"), { type: "email", autocomplete: "email", required: true }],
        ["password", t("Password (8 or more characters)"), { type: "password", autocomplete: "new-password", required: true, minlength: 8 }],
      ],
      t("Sign up"),
      async ({ username, email, password }) => {
        await call("CLIENT_CREATE", { username, email: email.trim(), password });
        await human(market.login("CLIENT_LOGIN", "client", username, password));
        location.hash = "#/";
      },
      { class: "signup" },
    );
    return h("div", { class: "columns" }, login, signup);
  }
  const me = await myAccount();
  if (!loggedIn()) return accountView(); // logged out meanwhile (another tab)
  if (me.name !== market.account.name) {
    // Renamed on another connection: the header follows.
    market.account.name = me.name;
    showAccount();
  }
  const who = h("strong", { id: "signed-in-as" }, me.name);
  const logout = h("button", { type: "button", class: "secondary", id: "logout" }, t("Log out"));
  logout.addEventListener("click", async () => {
    await market.logout("CLIENT_LOGOUT").catch(() => {});
    render();
  });
  const rename = form(t("Change username"), [["username", t("New username"), { required: true, maxlength: 64, value: me.name }]], t("Save"), async ({ username }) => {
    if (username === me.name) return t("Nothing to save: the username is as it was.");
    await call("SET_CLIENT_USERNAME", { username });
    me.name = market.account.name = username;
    who.textContent = username;
    showAccount();
    return t("Your username is changed.");
  });
  // Opens with the email the server holds; only a change is sent.
  const email = form(t("Change email"), [["email", t("New email"), { type: "email", required: true, value: me.email }]], t("Save"), async ({ email }) => {
    const wanted = email.trim();
    if (wanted === me.email) return t("Nothing to save: the email is as it was.");
    await call("SET_CLIENT_EMAIL", { email: wanted });
    me.email = wanted;
    return t("Your email is changed.");
  });
  const password = form(
    t("Change password"),
    [
      ["old_password", t("Current password"), { type: "password", autocomplete: "current-password" }],
      ["new_password", t("New password"), { type: "password", autocomplete: "new-password" }],
    ],
    t("Save"),
    async (values, inputs) => {
      market.keepToken(await call("SET_CLIENT_PASSWORD", values));
      inputs.old_password.value = inputs.new_password.value = "";
      return t("Your password is changed.");
    },
  );
  return h(
    "div",
    {},
    h("section", { class: "card account-head" }, h("h1", {}, t("Your account")), h("p", {}, parts("Signed in as {name}", { name: who })), logout),
    h("div", { class: "columns" }, rename, email, password),
  );
}

function showAccount() {
  const link = document.getElementById("account-link");
  link.textContent = loggedIn() ? market.account.name : t("Log in");
}

// --- start -------------------------------------------------------------------------

const render = router(
  [
    [/^\/$/, home],
    [/^\/store\/(.+)$/, store],
    [/^\/product\/(.+)$/, productView],
    [/^\/cart$/, cartView],
    [/^\/orders$/, ordersView],
    [/^\/account$/, accountView],
  ],
  home,
);

notices(market);
market.addEventListener("account", () => {
  // Nothing of an account stays on the page after it logged out; the
  // address goes with the session (a token still kept means a resume that
  // failed for now, not a logout).
  if (!loggedIn()) cart = [];
  if (!loggedIn() && !localStorage.getItem(market.tokenKey)) localStorage.removeItem(ADDRESS_KEY);
  showAccount();
  refreshCartCount();
});
// Logged in or out in another tab: this page shows it now.
market.addEventListener("elsewhere", () => render());
market.addEventListener("connected", (event) => {
  // A reconnect re-reads the page (the login was resumed meanwhile).
  redrawConnected(render);
  if (!(/** @type {CustomEvent} */ (event).detail.first)) refreshCartCount();
});
market.start();
