// The storefront: stores, products, search, cart, checkout, orders and the
// customer's account.

import { form, h, money, replace, say } from "./dom.js";
import { parts, switcher, t, tn, translatePage } from "./i18n.js";
import { human } from "./messages.js";
import { Market } from "./net.js";
import { notices, pager, router, rowsOf, when } from "./ui.js";

const market = new Market("cybermarket.client.token");
translatePage();
document.getElementById("language-switcher").replaceWith(switcher());
const PAGE = 24;
let cart = []; // the cart's lines as last read, for naming short products

function loggedIn() {
  return market.account && market.account.role === "client";
}

function call(op, args) {
  return human(market.call(op, args), cart);
}

// --- products ---------------------------------------------------------------

function stockLabel(stock) {
  if (stock <= 0) return h("span", { class: "stock out" }, t("Sold out"));
  if (stock <= 5) return h("span", { class: "stock low" }, tn("Only {n} left", "Only {n} left", stock));
  return h("span", { class: "stock in" }, t("In stock"));
}

function productCard(product) {
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
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
      const count = Number.parseInt(quantity.value, 10);
      if (!Number.isInteger(count) || count < 1) {
        say(status, t("Please enter a quantity of 1 or more."), "error");
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
  return h(
    "article",
    { class: "product card", "data-product-id": product.product_id },
    h("h3", { class: "product-name" }, product.productname),
    h("p", { class: "store-name muted" }, product.storename),
    h("p", { class: "description" }, product.description),
    h("div", { class: "meta" }, h("span", { class: "price" }, money(product.price)), stockLabel(product.stock)),
    buy,
    status,
  );
}

// --- search ------------------------------------------------------------------

function searchBox(storename) {
  if (!market.features.search) return null;
  const results = h("div", { class: "grid", id: "search-results" });
  const summary = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const input = h("input", {
    id: "search",
    type: "search",
    placeholder: storename ? t("Search {store}", { store: storename }) : t("Search every store"),
    autocomplete: "off",
    maxlength: 200,
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
    if (!/[\p{L}\p{N}]/u.test(query)) {
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
      const page = await paging.next();
      if (mine !== asked) return;
      section.append(paging.node);
      const n = results.children.length;
      summary.textContent = n ? t("Results for “{query}”", { query }) : t("Nothing found for “{query}”.", { query });
    } catch (error) {
      if (mine === asked) summary.textContent = error.human;
    }
  }
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
      h("p", { class: "description" }, store.description || t("No description yet.")),
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

async function store(name) {
  const grid = h("div", { class: "grid" });
  const load = async (after) => {
    const args = { storename: name, limit: PAGE };
    if (after !== null) args.after = after;
    const data = await call("LIST_PRODUCT", args);
    return { items: rowsOf(data), next: data.next };
  };
  const paging = pager(grid, load, productCard, t("More products"));
  const page = await paging.next();
  return h(
    "div",
    {},
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, t("Stores")), " / ", name),
    h("h1", {}, name),
    searchBox(name),
    page.items.length ? grid : h("p", { class: "muted" }, t("This store has nothing on its shelves right now.")),
    paging.node,
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

async function refreshCartCount() {
  const badge = document.getElementById("cart-count");
  if (!loggedIn()) {
    badge.hidden = true;
    return;
  }
  try {
    cart = rowsOf(await market.call("CLIENT_GET_ITEMS"));
    const count = cart.reduce((sum, line) => sum + line.quantity, 0);
    badge.textContent = String(count);
    badge.hidden = count === 0;
  } catch {
    badge.hidden = true;
  }
}

async function cartView() {
  if (!loggedIn()) return needLogin(t("Your cart"));
  const [items, total] = await Promise.all([call("CLIENT_GET_ITEMS"), call("CLIENT_GET_PRICE")]);
  cart = rowsOf(items);
  refreshCartCount();
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite", id: "cart-status" });
  if (!cart.length) {
    return h("section", {}, h("h1", {}, t("Your cart")), h("p", { class: "muted" }, t("Your cart is empty.")), h("a", { href: "#/" }, t("Browse the stores")));
  }
  const rows = cart.map((line) => {
    const id = `line-${line.product_id}`;
    const quantity = h("input", { id, type: "number", min: 1, value: line.quantity, class: "qty", inputmode: "numeric" });
    const update = h("button", { type: "button", class: "secondary" }, t("Update"));
    const remove = h("button", { type: "button", class: "danger" }, t("Remove"));
    update.addEventListener("click", () => act(async () => {
      const wanted = Number.parseInt(quantity.value, 10);
      if (!Number.isInteger(wanted) || wanted < 1) throw Object.assign(new Error(), { human: t("Please enter a quantity of 1 or more.") });
      if (wanted > line.quantity) {
        await call("CLIENT_ADD_ITEM", { product_id: line.product_id, quantity: wanted - line.quantity });
      } else if (wanted < line.quantity) {
        await call("CLIENT_REMOVE_ITEM", { product_id: line.product_id });
        await call("CLIENT_ADD_ITEM", { product_id: line.product_id, quantity: wanted });
      }
    }));
    remove.addEventListener("click", () => act(() => call("CLIENT_REMOVE_ITEM", { product_id: line.product_id })));
    return h(
      "tr",
      { "data-product-id": line.product_id },
      h("td", { "data-label": t("Product") }, h("strong", {}, line.productname), h("div", { class: "muted" }, line.storename)),
      h("td", { "data-label": t("Price") }, money(line.price)),
      h("td", { "data-label": t("Quantity") }, h("label", { for: id, class: "visually-hidden" }, t("Quantity of {name}", { name: line.productname })), quantity),
      h("td", { "data-label": "" }, h("div", { class: "row-actions" }, update, remove)),
    );
  });
  async function act(work) {
    try {
      await work();
      await rerender();
    } catch (error) {
      say(status, error.human, "error");
    }
  }
  const checkout = h("button", { type: "button", class: "primary big", id: "checkout" }, t("Check out"));
  checkout.addEventListener("click", async () => {
    checkout.disabled = true;
    try {
      const order = await call("CLIENT_CHECKOUT_ITEM");
      refreshCartCount();
      replace(
        document.getElementById("main"),
        h(
          "section",
          { class: "card narrow done" },
          h("h1", {}, t("Thank you!")),
          h("p", { id: "order-placed" }, t("Order #{id} is placed. Total {total}.", { id: order.order_id, total: money(order.total) })),
          h("a", { class: "button primary", href: "#/orders" }, t("See your orders")),
        ),
      );
    } catch (error) {
      say(status, error.human, "error");
      checkout.disabled = false;
    }
  });
  return h(
    "section",
    {},
    h("h1", {}, t("Your cart")),
    h("table", { class: "lines" }, h("thead", {}, h("tr", {}, h("th", {}, t("Product")), h("th", {}, t("Price")), h("th", {}, t("Quantity")), h("th", {}, h("span", { class: "visually-hidden" }, t("Actions"))))), h("tbody", {}, rows)),
    h("div", { class: "total" }, h("span", {}, t("Total")), h("strong", { id: "cart-total" }, money(total))),
    status,
    h("div", { class: "actions end" }, checkout),
  );
}

async function ordersView() {
  if (!loggedIn()) return needLogin(t("Your orders"));
  const list = h("div", { class: "orders" });
  const load = async (after) => {
    const args = { limit: 20 };
    if (after !== null) args.after = after;
    const data = await call("CLIENT_LIST_ORDERS", args);
    return { items: rowsOf(data), next: data.next };
  };
  const orderRow = (order) => {
    const lines = h("div", { class: "order-lines" });
    const show = h("button", { type: "button", class: "secondary", "aria-expanded": "false" }, t("Show items"));
    show.addEventListener("click", async () => {
      if (show.getAttribute("aria-expanded") === "true") {
        lines.replaceChildren();
        show.setAttribute("aria-expanded", "false");
        show.textContent = t("Show items");
        return;
      }
      try {
        const data = rowsOf(await call("CLIENT_GET_ORDER", { order_id: order.order_id }));
        replace(
          lines,
          h("table", { class: "lines compact" }, h("tbody", {}, data.map((l) => h("tr", {}, h("td", { "data-label": t("Product") }, l.productname, h("div", { class: "muted" }, l.storename)), h("td", { "data-label": t("Price paid") }, money(l.price)), h("td", { "data-label": t("Quantity") }, `× ${l.quantity}`))))),
        );
        show.setAttribute("aria-expanded", "true");
        show.textContent = t("Hide items");
      } catch (error) {
        replace(lines, h("p", { class: "error" }, error.human));
      }
    });
    return h(
      "article",
      { class: "order card", "data-order-id": order.order_id },
      h("div", { class: "order-head" }, h("h3", {}, t("Order #{id}", { id: order.order_id })), h("span", { class: "muted" }, when(order.created_at)), h("strong", {}, money(order.total)), show),
      lines,
    );
  };
  const paging = pager(list, load, orderRow, t("Older orders"));
  const page = await paging.next();
  return h("section", {}, h("h1", {}, t("Your orders")), page.items.length ? list : h("p", { class: "muted" }, t("No orders yet.")), paging.node);
}

function accountView() {
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
  const who = h("strong", { id: "signed-in-as" }, market.account.name);
  const logout = h("button", { type: "button", class: "secondary", id: "logout" }, t("Log out"));
  logout.addEventListener("click", async () => {
    await market.logout("CLIENT_LOGOUT").catch(() => {});
    render();
  });
  const rename = form(t("Change username"), [["username", t("New username"), { required: true, maxlength: 64 }]], t("Save"), async ({ username }) => {
    await call("SET_CLIENT_USERNAME", { username });
    market.account.name = username;
    who.textContent = username;
    showAccount();
    return t("Your username is changed.");
  });
  const email = form(t("Change email"), [["email", t("New email"), { type: "email", required: true }]], t("Save"), async ({ email }) => {
    await call("SET_CLIENT_EMAIL", { email: email.trim() });
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
    [/^\/cart$/, cartView],
    [/^\/orders$/, ordersView],
    [/^\/account$/, accountView],
  ],
  home,
);

notices(market);
market.addEventListener("account", () => {
  showAccount();
  refreshCartCount();
});
market.addEventListener("connected", (event) => {
  // A reconnect re-reads the page (the login was resumed meanwhile).
  render();
  if (!event.detail.first) refreshCartCount();
});
market.start();
