// The store console: joining with an invitation code, the store's products,
// its sales and revenue, invitations and the store's settings.

import { revenueChart } from "./chart.js";
import { form, h, invalid, mistake, money, replace, say, setValue } from "./dom.js";
import { formatCount, language, parts, switcher, t, tn, translatePage } from "./i18n.js";
import { human, statusName } from "./messages.js";
import { Market } from "./net.js";
import { PhotoField, thumbnail } from "./photo.js";
import { fromAddress, notices, pager, redrawConnected, router, rowsOf, when } from "./ui.js";

const market = new Market("cybermarket.merchant.token", "MERCHANT_LOGOUT");
translatePage();
document.getElementById("language-switcher").replaceWith(switcher());

function loggedIn() {
  return market.account && market.account.role === "merchant";
}

function call(op, args) {
  return human(market.call(op, args));
}

// The session token, for the photo uploads (HTTP, not the socket).
function token() {
  return localStorage.getItem(market.tokenKey);
}

// The store's name, or null while the login was its email address.
function storeName() {
  const name = market.account ? market.account.name : "";
  return name.includes("@") ? null : name;
}

// An amount as typed ("19.9", "019.90") written as the server keeps it,
// exactly: two fraction digits, never through a float.
function exactPrice(text) {
  const [whole, fraction = ""] = text.split(".");
  return `${whole.replace(/^0+(?=\d)/, "") || "0"}.${fraction.padEnd(2, "0")}`;
}

// A price as people type it: "2,50" and "1 234,50" (a decimal comma, as
// most of Europe and Russia write it), "1,234.50", "19.9"; written as the
// server takes it ("2.50"), or a mistake in words naming the price field.
// A lone comma before three digits ("2,500") groups thousands.
function priceOf(typed) {
  let text = typed.trim().replace(/[\s\u00a0\u202f']/g, "");
  if (text.startsWith("-")) throw mistake(t("A price cannot be below zero."), "price");
  const comma = text.lastIndexOf(",");
  const dot = text.lastIndexOf(".");
  if (comma > dot && (dot >= 0 || !/^\d{1,3}(,\d{3})+$/.test(text))) {
    text = `${text.slice(0, comma).replace(/[.,]/g, "")}.${text.slice(comma + 1)}`;
  } else {
    text = text.replace(/,/g, "");
  }
  if (!/^\d+(\.\d{1,2})?$/.test(text)) {
    const example = new Intl.NumberFormat(language, { minimumFractionDigits: 2 }).format(19.99);
    throw mistake(t("Please write the price as a number, such as {example}.", { example }), "price");
  }
  return exactPrice(text);
}

// --- joining and logging in ---------------------------------------------------

function welcome() {
  const login = form(
    t("Log in to your store"),
    [
      ["login", t("Store name or email"), { autocomplete: "username", required: true }],
      ["password", t("Password"), { type: "password", autocomplete: "current-password", required: true }],
    ],
    t("Log in"),
    async ({ login, password }) => {
      await human(market.login("MERCHANT_LOGIN", "merchant", login.trim(), password));
      location.hash = "#/products";
      render();
    },
    { class: "login" },
  );
  const join = form(
    t("Open a store"),
    [
      ["code", t("Invitation code"), { required: true, autocomplete: "off" }],
      ["inviter", t("Inviting store's name (leave empty for a code from the operator)"), { autocomplete: "off" }],
      ["storename", t("Store name"), { required: true, maxlength: 64 }],
      ["description", t("About your store"), { multiline: true, maxlength: 2000 }],
      ["email", t("Email"), { type: "email", autocomplete: "email", required: true }],
      ["password", t("Password (8 or more characters)"), { type: "password", autocomplete: "new-password", required: true }],
    ],
    t("Open my store"),
    async (values) => {
      const args = { ...values, code: values.code.trim(), email: values.email.trim() };
      args.inviter = values.inviter.trim() || null;
      await call("MERCHANT_CREATE", args);
      await human(market.login("MERCHANT_LOGIN", "merchant", values.storename, values.password));
      location.hash = "#/products";
      render();
    },
    { class: "join" },
  );
  return h(
    "div",
    {},
    h("section", { class: "hero" }, h("h1", {}, t("Sell on cybermarket")), h("p", { class: "lead" }, t("Log in to your store, or open one with an invitation code."))),
    h("div", { class: "columns" }, login, join),
  );
}

function guarded(view) {
  return async (...args) => (loggedIn() ? view(...args) : welcome());
}

// --- products ------------------------------------------------------------------

// A product's row; what its buttons did (or why not) shows in the row.
// `unsent`: a photo chosen in the add form whose upload was refused
// ({file, why}); the row opens in its edit form with it, to send again.
function productRow(product, unsent = null) {
  const row = h("tr", { "data-product-id": product.product_id });
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite", id: `row-status-${product.product_id}` });
  const show = () => {
    const shelf = h("button", { type: "button", class: "secondary" }, product.on_shelf ? t("Take off shelf") : t("Put on shelf"));
    shelf.addEventListener("click", () =>
      act(async () => {
        await call(product.on_shelf ? "MERCHANT_DEL_PRODUCT" : "MERCHANT_PUT_ON_SHELF", { product_id: product.product_id });
        product.on_shelf = !product.on_shelf;
      }),
    );
    const edit = h("button", { type: "button", class: "secondary edit" }, t("Edit"));
    edit.addEventListener("click", () => editing());
    const restockId = `restock-${product.product_id}`;
    const amount = h("input", { id: restockId, type: "number", min: 1, value: 10, class: "qty", inputmode: "numeric" });
    const restock = h("button", { type: "submit", class: "secondary" }, t("Restock"));
    // A form of its own, so that Enter in the box restocks.
    const restocking = h("form", { class: "restock", novalidate: true }, h("label", { for: restockId, class: "visually-hidden" }, t("Units to add to {name}", { name: product.productname })), amount, restock);
    restocking.addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const quantity = Number(amount.value.trim());
        if (!Number.isInteger(quantity) || quantity < 1) throw mistake(t("Please enter a whole number of units, 1 or more."), amount);
        await call("MERCHANT_RESTOCK_PRODUCT", { product_id: product.product_id, quantity });
        product.stock += quantity;
      });
    });
    replace(
      row,
      h(
        "td",
        { "data-label": t("Product") },
        h("div", { class: "product-cell" }, thumbnail(product.photo), h("div", {}, h("strong", { class: "product-name", title: product.productname }, product.productname), h("div", { class: "description muted" }, product.description))),
      ),
      h("td", { "data-label": t("Price"), class: "num" }, money(product.price)),
      h("td", { "data-label": t("Stock"), class: "num stock-count" }, formatCount(product.stock)),
      h("td", { "data-label": t("Shelf") }, product.on_shelf ? h("span", { class: "pill on" }, t("On shelf")) : h("span", { class: "pill off" }, t("Off shelf"))),
      h(
        "td",
        { "data-label": "" },
        h("div", { class: "row-actions" }, edit, shelf, restocking),
        status,
      ),
    );
  };
  const editing = (unsent = null) => {
    const photo = new PhotoField({
      current: product.photo || null,
      productId: () => product.product_id,
      token,
      removed: () => {
        product.photo = null;
      },
    });
    const edit = form(
      null,
      [
        ["productname", t("Name"), { value: product.productname, required: true, maxlength: 200 }],
        ["price", t("Price"), { value: product.price, inputmode: "decimal", required: true }],
        ["description", t("Description"), { multiline: true, value: product.description, maxlength: 2000 }],
      ],
      t("Save"),
      async (values) => {
        const args = { product_id: product.product_id };
        const wanted = { ...values, price: priceOf(values.price) };
        for (const key of ["productname", "price", "description"]) {
          if (wanted[key] !== product[key]) args[key] = wanted[key];
        }
        // A file that is no picture stops the save before anything is sent.
        const picture = await photo.prepared();
        if (Object.keys(args).length > 1) await call("SET_PRODUCT", args);
        Object.assign(product, wanted);
        // A refused upload leaves the form open, saying why (the rest is
        // saved, and a second Save sends only the photo).
        if (picture) product.photo = await photo.upload(product.product_id, picture);
        show();
      },
      { class: "inline" },
    );
    const cancel = h("button", { type: "button", class: "secondary" }, t("Cancel"));
    cancel.addEventListener("click", show);
    edit.querySelector(".actions").append(cancel);
    edit.querySelector(".actions").before(photo.node);
    replace(row, h("td", { colspan: 5 }, edit));
    if (unsent) {
      photo.choose(unsent.file);
      say(edit.status, unsent.why, "error");
    } else {
      edit.inputs.productname.focus();
    }
  };
  async function act(work) {
    try {
      await work();
      show();
      say(status, t("Saved."), "ok");
    } catch (error) {
      say(status, error.human, "error");
      if (error.field instanceof HTMLElement) invalid(error.field, status);
    }
  }
  if (unsent) editing(unsent);
  else show();
  return row;
}

async function products() {
  const body = h("tbody", {});
  const load = async (after) => {
    const args = { limit: 50 };
    if (after !== null) args.after = after;
    const data = await call("MERCHANT_LIST_PRODUCTS", args);
    return { items: rowsOf(data), next: data.next };
  };
  const paging = pager(body, load, productRow, t("More products"));
  const photo = new PhotoField({ current: null, token });
  const add = form(
    t("Add a product"),
    [
      ["productname", t("Name"), { required: true, maxlength: 200 }],
      ["price", t("Price (such as 19.99)"), { inputmode: "decimal", required: true }],
      ["stock", t("Units in stock"), { type: "number", min: 0, value: 10, inputmode: "numeric" }],
      ["description", t("Description"), { multiline: true, maxlength: 2000 }],
    ],
    t("Add product"),
    async (values, inputs) => {
      const price = priceOf(values.price);
      const stock = Number(values.stock.trim() || "0");
      if (!Number.isInteger(stock) || stock < 0) throw mistake(t("Please enter a whole number, 0 or more."), "stock");
      const args = { productname: values.productname, price, description: values.description, stock };
      // A file that is no picture stops here: nothing is added.
      const picture = await photo.prepared();
      const made = await call("MERCHANT_ADD_PRODUCT", args);
      const product = { product_id: made.product_id, ...args, on_shelf: true, photo: null };
      // The photo once the product's id is known.  The product stays added
      // if its upload is refused: its row opens with the photo, to send
      // again with Save, and the sentence says so.
      let unsent = null;
      if (picture) {
        try {
          product.photo = await photo.upload(made.product_id, picture);
        } catch (error) {
          unsent = { file: photo.file, why: error.human };
        }
      }
      body.append(productRow(product, unsent));
      empty.hidden = true;
      table.hidden = false;
      for (const input of Object.values(inputs)) setValue(input, "");
      setValue(inputs.stock, "10");
      inputs.productname.focus();
      photo.clear(null);
      if (unsent) throw mistake(t("Added {name}, but not its photo: {reason} Press Save at the product in the list to send it again.", { name: args.productname, reason: unsent.why }));
      return t("Added {name}.", { name: args.productname });
    },
    { class: "add-product" },
  );
  add.querySelector(".actions").before(photo.node);
  const page = await paging.next();
  const empty = h("p", { class: "muted" }, t("No products yet: add your first one below."));
  empty.hidden = page.items.length > 0;
  const table = h(
    "table",
    { class: "lines products" },
    h("thead", {}, h("tr", {}, h("th", {}, t("Product")), h("th", { class: "num" }, t("Price")), h("th", { class: "num" }, t("Stock")), h("th", {}, t("Shelf")), h("th", {}, h("span", { class: "visually-hidden" }, t("Actions"))))),
    body,
  );
  table.hidden = page.items.length === 0;
  return h("div", {}, h("h1", {}, storeName() ? t("Products of {store}", { store: storeName() }) : t("Your products")), empty, table, paging.node, add);
}

// --- sales -----------------------------------------------------------------------

async function sales() {
  const [profit, table] = await Promise.all([call("MERCHANT_GET_PROFIT"), call("MERCHANT_GET_SALES")]);
  const rows = rowsOf(table);
  const content = rows.length
    ? [
        h("figure", { class: "card chart-card" }, h("figcaption", {}, t("Revenue per product")), revenueChart(rows)),
        h(
          "table",
          { class: "lines sales" },
          h("thead", {}, h("tr", {}, h("th", {}, t("Product")), h("th", { class: "num" }, t("Units sold")), h("th", { class: "num" }, t("Revenue")))),
          h("tbody", {}, rows.map((r) => h("tr", {}, h("td", { "data-label": t("Product") }, r.productname), h("td", { "data-label": t("Units sold"), class: "num" }, formatCount(r.quantity_sold)), h("td", { "data-label": t("Revenue"), class: "num" }, money(r.revenue))))),
        ),
      ]
    : [h("p", { class: "muted" }, t("No sales yet."))];
  return h(
    "div",
    {},
    h("h1", {}, t("Sales")),
    h("section", { class: "card stat" }, h("span", { class: "muted", id: "profit-label" }, t("Revenue so far")), h("strong", { id: "profit" }, money(profit))),
    content,
  );
}

// --- orders --------------------------------------------------------------------------

const ORDER_FILTERS = [
  ["all", t("All")],
  ["placed", t("Waiting to ship")],
  ["shipped", t("Shipped")],
  ["cancelled", t("Cancelled")],
];
const NOTE_MAX = 200;

// The number of this store's parts waiting to ship, in the navigation
// (read again after each shipping, and at login); only the latest count
// asked for is shown, so that a slow older one cannot bring back a stale
// number.
let counting = 0;
async function countWaiting() {
  const badge = document.getElementById("waiting-count");
  const mine = ++counting;
  if (!loggedIn()) {
    badge.hidden = true;
    return;
  }
  let count = 0;
  let after = null;
  try {
    do {
      const args = { status: "placed", limit: 1000 };
      if (after !== null) args.after = after;
      const data = await market.call("MERCHANT_LIST_ORDERS", args);
      count += data.rows.length;
      after = data.next === undefined ? null : data.next;
    } while (after !== null);
  } catch {
    if (mine === counting) badge.hidden = true;
    return;
  }
  if (mine !== counting) return;
  badge.textContent = formatCount(count);
  badge.hidden = count === 0;
  badge.title = tn("{n} order waiting to ship", "{n} orders waiting to ship", count);
}

// One order's part of this store: who, where, the lines and the total, and
// Mark as shipped (with an optional note) while it is placed.
function orderCard(order) {
  const card = h("article", { class: "order card", "data-order-id": order.order_id, "data-status": order.status });
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
  function show() {
    card.dataset.status = order.status;
    let shipping = null;
    if (order.status === "placed") {
      shipping = form(
        null,
        [["note", t("Shipping note (carrier and tracking number, optional)"), { maxlength: NOTE_MAX, autocomplete: "off" }]],
        t("Mark as shipped"),
        async ({ note }) => {
          const args = { order_id: order.order_id };
          if (note.trim()) args.note = note.trim();
          let outcome = t("Marked as shipped.");
          let kind = "ok";
          try {
            await call("MERCHANT_SHIP_ORDER", args);
          } catch (error) {
            // Cancelled by the customer meanwhile, say: the card shows it.
            if (error.code !== "not_placed") throw error;
            outcome = error.human;
            kind = "error";
          }
          // What the server holds now.
          await reread().catch(() => {});
          countWaiting();
          show();
          say(status, outcome, kind);
        },
        { class: "ship inline" },
      );
    }
    replace(
      card,
      h("div", { class: "order-head" }, h("h3", {}, t("Order #{id}", { id: order.order_id })), h("span", { class: "muted" }, when(order.created_at)), h("span", { class: `pill status-${order.status}`, "data-status": order.status }, statusName(order.status)), h("strong", { class: "num order-total" }, money(order.total))),
      h(
        "dl",
        { class: "order-who" },
        h("dt", {}, t("Customer")),
        h("dd", { class: "customer" }, order.username),
        h("dt", {}, t("Delivery address")),
        h("dd", { class: "address" }, order.address || t("No address given")),
        order.note ? [h("dt", {}, t("Shipping note")), h("dd", { class: "ship-note" }, order.note)] : null,
      ),
      h(
        "table",
        { class: "lines compact order-lines" },
        h("thead", {}, h("tr", {}, h("th", {}, t("Product")), h("th", { class: "num" }, t("Price")), h("th", { class: "num" }, t("Quantity")))),
        h("tbody", {}, order.lines.map((l) => h("tr", {}, h("td", { "data-label": t("Product") }, l.productname), h("td", { "data-label": t("Price"), class: "num" }, money(l.price)), h("td", { "data-label": t("Quantity"), class: "num" }, formatCount(l.quantity))))),
      ),
      shipping,
      status,
    );
  }
  // This part as the server holds it now (the page of one row from just
  // above its order).
  async function reread() {
    const data = await call("MERCHANT_LIST_ORDERS", { after: order.order_id + 1, limit: 1 });
    const row = rowsOf(data).find((o) => o.order_id === order.order_id);
    if (row) Object.assign(order, row);
  }
  show();
  return card;
}

async function orders() {
  const wanted = fromAddress("status");
  const filter = ORDER_FILTERS.some(([key]) => key === wanted) ? wanted : "all";
  const list = h("div", { class: "orders" });
  const load = async (after) => {
    const args = { limit: 20 };
    if (filter !== "all") args.status = filter;
    if (after !== null) args.after = after;
    const data = await call("MERCHANT_LIST_ORDERS", args);
    const rows = rowsOf(data);
    const lines = await Promise.all(rows.map((o) => call("MERCHANT_GET_ORDER", { order_id: o.order_id }).then(rowsOf, () => [])));
    return { items: rows.map((o, i) => ({ ...o, lines: lines[i] })), next: data.next };
  };
  const paging = pager(list, load, orderCard, t("Older orders"));
  const [page] = await Promise.all([paging.next(), countWaiting()]);
  const filters = h(
    "div",
    { class: "filters", role: "group", "aria-label": t("Show orders") },
    ORDER_FILTERS.map(([key, label]) => h("a", { href: key === "all" ? "#/orders" : `#/orders?status=${key}`, class: "filter", "aria-current": key === filter ? "true" : null, "data-filter": key }, label)),
  );
  return h("div", {}, h("h1", {}, t("Orders")), filters, page.items.length ? list : h("p", { class: "muted", id: "no-orders" }, t("No orders here yet.")), paging.node);
}

// --- invitations and settings ----------------------------------------------------------

function invite() {
  const output = h("div", { class: "invite-result", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "primary" }, t("Create an invitation code"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const code = await call("MERCHANT_CREATE_INVITATION");
      const copy = h("button", { type: "button", class: "secondary" }, t("Copy"));
      const copied = h("span", { class: "form-status", role: "status" });
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(code);
          say(copied, t("Copied."), "ok");
        } catch {
          window.getSelection().selectAllChildren(codeNode);
          say(copied, t("Press Ctrl+C (or ⌘C) to copy."), "");
        }
      });
      const codeNode = h("code", { id: "invitation-code" }, code);
      replace(
        output,
        h("p", {}, t("Give the new store this code, single use, together with your store name:")),
        h("div", { class: "code-row" }, codeNode, copy, copied),
        h("p", { class: "muted" }, parts("Inviting store: {name}", { name: h("strong", {}, storeName() || t("your store")) })),
      );
    } catch (error) {
      replace(output, h("p", { class: "error" }, error.human));
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "card narrow" }, h("h1", {}, t("Invite a store")), h("p", {}, t("Stores join by invitation. A code works once.")), button, output);
}

// This store as the server holds it now (storename, description, email):
// protocol 1.2's GET_ACCOUNT; from a server without it, the store's
// LIST_MERCHANT row, looked for from just before its name (LIST_MERCHANT is
// ordered by name), then, for a login spelled otherwise, through every page.
async function myStore() {
  try {
    const me = await market.call("GET_ACCOUNT");
    return { storename: me.name, description: me.description || "", email: me.email || "" };
  } catch {
    // An older server: LIST_MERCHANT below.
  }
  const name = market.account.name;
  const mine = (store) => store.storename === name || store.storename.toLowerCase() === name.toLowerCase() || store.email.toLowerCase() === name.toLowerCase();
  for (const start of [name.slice(0, -1), null]) {
    let after = start;
    do {
      const args = { limit: 1000 };
      if (after !== null) args.after = after;
      const data = await call("LIST_MERCHANT", args);
      const found = rowsOf(data).find(mine);
      if (found) return found;
      if (start !== null) break; // one page from the name; then all of them
      after = data.next === undefined ? null : data.next;
    } while (after !== null);
  }
  return { storename: storeName() || "", description: "", email: "" };
}

// A form that opens with the store's current value of one setting and
// sends it only when the merchant changed it.
function setting(title, key, label, op, attrs, store, done, unchanged) {
  return form(title, [[key, label, { ...attrs, value: store[key] }]], t("Save"), async (values) => {
    const value = key === "description" ? values[key] : values[key].trim();
    if (value === store[key]) return unchanged;
    await call(op, { [key]: value });
    store[key] = value;
    return done(value);
  });
}

async function settings() {
  const store = await myStore();
  // Renamed on another connection: the pages follow the stored name.
  if (store.storename && loggedIn()) market.account.name = store.storename;
  const who = h("strong", { id: "signed-in-as" }, store.storename || market.account.name);
  const rename = setting(t("Store name"), "storename", t("New store name"), "SET_MERCHANT_STORENAME", { required: true, maxlength: 64 }, store, (storename) => {
    market.account.name = storename;
    who.textContent = storename;
    return t("Your store name is changed.");
  }, t("Nothing to save: the store name is as it was."));
  const about = setting(t("About your store"), "description", t("Description"), "SET_MERCHANT_DESCRIPTION", { multiline: true, maxlength: 2000 }, store, () => t("Your description is saved."), t("Nothing to save: the description is as it was."));
  const email = setting(t("Email"), "email", t("New email"), "SET_MERCHANT_EMAIL", { type: "email", required: true }, store, () => t("Your email is changed."), t("Nothing to save: the email is as it was."));
  const password = form(
    t("Password"),
    [
      ["old_password", t("Current password"), { type: "password", autocomplete: "current-password" }],
      ["new_password", t("New password"), { type: "password", autocomplete: "new-password" }],
    ],
    t("Save"),
    async (values, inputs) => {
      market.keepToken(await call("SET_MERCHANT_PASSWORD", values));
      inputs.old_password.value = inputs.new_password.value = "";
      return t("Your password is changed.");
    },
  );
  const logout = h("button", { type: "button", class: "secondary", id: "logout" }, t("Log out"));
  logout.addEventListener("click", async () => {
    await market.logout("MERCHANT_LOGOUT").catch(() => {});
    location.hash = "#/";
    render();
  });
  return h(
    "div",
    {},
    h("section", { class: "card account-head" }, h("h1", {}, t("Settings")), h("p", {}, parts("Signed in as {name}", { name: who })), logout),
    h("div", { class: "columns" }, rename, about, email, password),
  );
}

// --- start ---------------------------------------------------------------------------

const render = router(
  [
    [/^\/products$/, guarded(products)],
    [/^\/orders$/, guarded(orders)],
    [/^\/sales$/, guarded(sales)],
    [/^\/invite$/, guarded(invite)],
    [/^\/settings$/, guarded(settings)],
  ],
  guarded(products),
);

notices(market);
market.addEventListener("account", () => {
  document.getElementById("console-nav").hidden = !loggedIn();
  countWaiting();
});
market.addEventListener("connected", () => redrawConnected(render));
// Logged in or out in another tab: this page shows it now.
market.addEventListener("elsewhere", () => render());
market.start();
