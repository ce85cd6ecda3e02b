// A horizontal bar chart of revenue per product, as a list the page's own
// text sizes apply to (a scaled drawing made its text tiny on a phone).
// A long name is cut at its end, never at its start, and shows whole on
// hover (its title) and when focused.  The table beside it holds the same
// figures.

import { h } from "./dom.js";
import { formatMoney, t } from "./i18n.js";

// sales: [{productname, revenue (decimal string)}], biggest first.
/**
 * @param {{productname: string, revenue: string}[]} sales
 * @param {number} most
 */
export function revenueChart(sales, most = 10) {
  const shown = sales.slice(0, most);
  const values = shown.map((s) => Number.parseFloat(s.revenue));
  const top = Math.max(...values, 0.01);
  return h(
    "ul",
    { class: "chart", "aria-label": t("Revenue per product") },
    shown.map((sale, i) => {
      const bar = h("span", { class: "bar-fill" });
      // A share of the row, set through the style object: the page's
      // Content-Security-Policy refuses style attributes.
      bar.style.width = `${Math.max(0.5, (values[i] / top) * 100)}%`;
      return h(
        "li",
        { class: "bar-row" },
        h("span", { class: "bar-label", tabindex: 0, title: sale.productname }, sale.productname),
        h("span", { class: "bar-track" }, bar),
        h("span", { class: "bar-value num" }, formatMoney(sale.revenue)),
      );
    }),
  );
}
