// The store console: joining with an invitation code, the store's products,
// its sales and profit, invitations and the store's settings.

import { revenueChart } from "./chart.js";
import { form, h, money, replace, say } from "./dom.js";
import { human } from "./messages.js";
import { Market } from "./net.js";
import { notices, pager, router, rowsOf } from "./ui.js";

const market = new Market("cybermarket.merchant.token");

function loggedIn() {
  return market.account && market.account.role === "merchant";
}

function call(op, args) {
  return human(market.call(op, args));
}

function storeName() {
  const name = market.account ? market.account.name : "";
  return name.includes("@") ? "your store" : name;
}

// --- joining and logging in ---------------------------------------------------

function welcome() {
  const login = form(
    "Log in to your store",
    [
      ["login", "Store name or email", { autocomplete: "username", required: true }],
      ["password", "Password", { type: "password", autocomplete: "current-password", required: true }],
    ],
    "Log in",
    async ({ login, password }) => {
      await human(market.login("MERCHANT_LOGIN", "merchant", login.trim(), password));
      location.hash = "#/products";
      render();
    },
    { class: "login" },
  );
  const join = form(
    "Open a store",
    [
      ["code", "Invitation code", { required: true, autocomplete: "off" }],
      ["inviter", "Inviting store's name (leave empty for a code from the operator)", { autocomplete: "off" }],
      ["storename", "Store name", { required: true, maxlength: 64 }],
      ["description", "About your store", { multiline: true, maxlength: 2000 }],
      ["email", "Email", { type: "email", autocomplete: "email", required: true }],
      ["password", "Password (8 or more characters)", { type: "password", autocomplete: "new-password", required: true }],
    ],
    "Open my store",
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
    h("section", { class: "hero" }, h("h1", {}, "Sell on cybermarket"), h("p", { class: "lead" }, "Log in to your store, or open one with an invitation code.")),
    h("div", { class: "columns" }, login, join),
  );
}

function guarded(view) {
  return async (...args) => (loggedIn() ? view(...args) : welcome());
}

// --- products ------------------------------------------------------------------

function productRow(product, status) {
  const row = h("tr", { "data-product-id": product.product_id });
  const show = () => {
    const shelf = h("button", { type: "button", class: "secondary" }, product.on_shelf ? "Take off shelf" : "Put on shelf");
    shelf.addEventListener("click", () =>
      act(async () => {
        await call(product.on_shelf ? "MERCHANT_DEL_PRODUCT" : "MERCHANT_PUT_ON_SHELF", { product_id: product.product_id });
        product.on_shelf = !product.on_shelf;
      }),
    );
    const edit = h("button", { type: "button", class: "secondary" }, "Edit");
    edit.addEventListener("click", () => editing());
    const restockId = `restock-${product.product_id}`;
    const amount = h("input", { id: restockId, type: "number", min: 1, value: 10, class: "qty", inputmode: "numeric" });
    const restock = h("button", { type: "button", class: "secondary" }, "Restock");
    restock.addEventListener("click", () =>
      act(async () => {
        const quantity = Number.parseInt(amount.value, 10);
        await call("MERCHANT_RESTOCK_PRODUCT", { product_id: product.product_id, quantity });
        product.stock += quantity;
      }),
    );
    replace(
      row,
      h("td", { "data-label": "Product" }, h("strong", { class: "product-name" }, product.productname), h("div", { class: "description muted" }, product.description)),
      h("td", { "data-label": "Price" }, money(product.price)),
      h("td", { "data-label": "Stock", class: "stock-count" }, String(product.stock)),
      h("td", { "data-label": "Shelf" }, product.on_shelf ? h("span", { class: "pill on" }, "On shelf") : h("span", { class: "pill off" }, "Off shelf")),
      h(
        "td",
        { "data-label": "" },
        h("div", { class: "row-actions" }, edit, shelf, h("label", { for: restockId, class: "visually-hidden" }, `Units to add to ${product.productname}`), amount, restock),
      ),
    );
  };
  const editing = () => {
    const edit = form(
      null,
      [
        ["productname", "Name", { value: product.productname, required: true, maxlength: 200 }],
        ["price", "Price", { value: product.price, inputmode: "decimal", required: true }],
        ["description", "Description", { multiline: true, value: product.description, maxlength: 2000 }],
      ],
      "Save",
      async (values) => {
        const args = { product_id: product.product_id };
        for (const key of ["productname", "price", "description"]) {
          if (values[key] !== product[key]) args[key] = key === "price" ? values[key].trim() : values[key];
        }
        if (Object.keys(args).length > 1) await call("SET_PRODUCT", args);
        Object.assign(product, values);
        show();
      },
      { class: "inline" },
    );
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    cancel.addEventListener("click", show);
    edit.querySelector(".actions").append(cancel);
    replace(row, h("td", { colspan: 5 }, edit));
    edit.inputs.productname.focus();
  };
  async function act(work) {
    try {
      await work();
      show();
      say(status, "Saved.", "ok");
    } catch (error) {
      say(status, error.human, "error");
    }
  }
  show();
  return row;
}

async function products() {
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
  const body = h("tbody", {});
  const load = async (after) => {
    const args = { limit: 50 };
    if (after !== null) args.after = after;
    const data = await call("MERCHANT_LIST_PRODUCTS", args);
    return { items: rowsOf(data), next: data.next };
  };
  const paging = pager(body, load, (p) => productRow(p, status), "More products");
  const add = form(
    "Add a product",
    [
      ["productname", "Name", { required: true, maxlength: 200 }],
      ["price", "Price (such as 19.99)", { inputmode: "decimal", required: true }],
      ["stock", "Units in stock", { type: "number", min: 0, value: 10, inputmode: "numeric" }],
      ["description", "Description", { multiline: true, maxlength: 2000 }],
    ],
    "Add product",
    async (values, inputs) => {
      const stock = Number.parseInt(values.stock || "0", 10);
      const args = { productname: values.productname, price: values.price.trim(), description: values.description, stock };
      const made = await call("MERCHANT_ADD_PRODUCT", args);
      body.append(productRow({ product_id: made.product_id, ...args, price: Number.parseFloat(args.price).toFixed(2), on_shelf: true }, status));
      empty.hidden = true;
      table.hidden = false;
      for (const input of Object.values(inputs)) input.value = "";
      inputs.stock.value = "10";
      inputs.productname.focus();
      return `Added ${args.productname}.`;
    },
    { class: "add-product" },
  );
  const page = await paging.next();
  const empty = h("p", { class: "muted" }, "No products yet: add your first one below.");
  empty.hidden = page.items.length > 0;
  const table = h(
    "table",
    { class: "lines products" },
    h("thead", {}, h("tr", {}, ["Product", "Price", "Stock", "Shelf"].map((c) => h("th", {}, c)), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
    body,
  );
  table.hidden = page.items.length === 0;
  return h("div", {}, h("h1", {}, `Products of ${storeName()}`), empty, table, paging.node, status, add);
}

// --- sales -----------------------------------------------------------------------

async function sales() {
  const [profit, table] = await Promise.all([call("MERCHANT_GET_PROFIT"), call("MERCHANT_GET_SALES")]);
  const rows = rowsOf(table);
  const content = rows.length
    ? [
        h("figure", { class: "card chart-card" }, h("figcaption", {}, "Revenue per product"), revenueChart(rows)),
        h(
          "table",
          { class: "lines sales" },
          h("thead", {}, h("tr", {}, h("th", {}, "Product"), h("th", {}, "Units sold"), h("th", {}, "Revenue"))),
          h("tbody", {}, rows.map((r) => h("tr", {}, h("td", { "data-label": "Product" }, r.productname), h("td", { "data-label": "Units sold" }, String(r.quantity_sold)), h("td", { "data-label": "Revenue" }, money(r.revenue))))),
        ),
      ]
    : [h("p", { class: "muted" }, "No sales yet.")];
  return h(
    "div",
    {},
    h("h1", {}, "Sales"),
    h("section", { class: "card stat" }, h("span", { class: "muted" }, "Profit so far"), h("strong", { id: "profit" }, money(profit))),
    content,
  );
}

// --- invitations and settings ----------------------------------------------------------

function invite() {
  const output = h("div", { class: "invite-result", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "primary" }, "Create an invitation code");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const code = await call("MERCHANT_CREATE_INVITATION");
      const copy = h("button", { type: "button", class: "secondary" }, "Copy");
      const copied = h("span", { class: "form-status", role: "status" });
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(code);
          say(copied, "Copied.", "ok");
        } catch {
          window.getSelection().selectAllChildren(codeNode);
          say(copied, "Press Ctrl+C (or ⌘C) to copy.", "");
        }
      });
      const codeNode = h("code", { id: "invitation-code" }, code);
      replace(
        output,
        h("p", {}, "Give the new store this code, single use, together with your store name:"),
        h("div", { class: "code-row" }, codeNode, copy, copied),
        h("p", { class: "muted" }, "Inviting store: ", h("strong", {}, storeName())),
      );
    } catch (error) {
      replace(output, h("p", { class: "error" }, error.human));
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "card narrow" }, h("h1", {}, "Invite a store"), h("p", {}, "Stores join by invitation. A code works once."), button, output);
}

function settings() {
  const rename = form("Store name", [["storename", "New store name", { required: true, maxlength: 64 }]], "Save", async ({ storename }) => {
    await call("SET_MERCHANT_STORENAME", { storename });
    market.account.name = storename;
    return "Your store name is changed.";
  });
  const about = form("About your store", [["description", "Description", { multiline: true, maxlength: 2000 }]], "Save", async ({ description }) => {
    await call("SET_MERCHANT_DESCRIPTION", { description });
    return "Your description is saved.";
  });
  const email = form("Email", [["email", "New email", { type: "email", required: true }]], "Save", async ({ email }) => {
    await call("SET_MERCHANT_EMAIL", { email: email.trim() });
    return "Your email is changed.";
  });
  const password = form(
    "Password",
    [
      ["old_password", "Current password", { type: "password", autocomplete: "current-password" }],
      ["new_password", "New password", { type: "password", autocomplete: "new-password" }],
    ],
    "Save",
    async (values, inputs) => {
      market.keepToken(await call("SET_MERCHANT_PASSWORD", values));
      inputs.old_password.value = inputs.new_password.value = "";
      return "Your password is changed.";
    },
  );
  const logout = h("button", { type: "button", class: "secondary", id: "logout" }, "Log out");
  logout.addEventListener("click", async () => {
    await market.logout("MERCHANT_LOGOUT").catch(() => {});
    location.hash = "#/";
    render();
  });
  return h(
    "div",
    {},
    h("section", { class: "card account-head" }, h("h1", {}, "Settings"), h("p", {}, "Signed in as ", h("strong", {}, storeName())), logout),
    h("div", { class: "columns" }, rename, about, email, password),
  );
}

// --- start ---------------------------------------------------------------------------

const render = router(
  [
    [/^\/products$/, guarded(products)],
    [/^\/sales$/, guarded(sales)],
    [/^\/invite$/, guarded(invite)],
    [/^\/settings$/, guarded(settings)],
  ],
  guarded(products),
);

notices(market);
market.addEventListener("account", () => {
  document.getElementById("console-nav").hidden = !loggedIn();
});
market.addEventListener("connected", () => render());
market.start();
