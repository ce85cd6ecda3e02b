// A horizontal bar chart of revenue per product, drawn as SVG by the page.
// Names go in as text nodes; the table beside it holds the same figures.

import { formatMoney, list, t } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function cut(text, most) {
  return text.length <= most ? text : `${text.slice(0, most - 1)}…`;
}

// sales: [{productname, revenue (decimal string)}], biggest first.
export function revenueChart(sales, most = 10) {
  const shown = sales.slice(0, most);
  const values = shown.map((s) => Number.parseFloat(s.revenue));
  const top = Math.max(...values, 0.01);
  const bar = 28;
  const gap = 12;
  const label = 150;
  const width = 640;
  const room = width - label - 90;
  const height = shown.length * (bar + gap) + gap;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": t("Revenue per product: {list}", { list: list(shown.map((s) => `${s.productname} ${formatMoney(s.revenue)}`)) }),
  });
  shown.forEach((sale, i) => {
    const y = gap + i * (bar + gap);
    const w = Math.max(2, (values[i] / top) * room);
    const row = svg("g", { class: "bar-row" });
    row.append(
      svg("text", { x: label - 10, y: y + bar / 2, class: "bar-label", "text-anchor": "end", "dominant-baseline": "middle" }, cut(sale.productname, 20)),
      svg("rect", { x: label, y, width: w, height: bar, rx: 5, class: "bar" }),
      svg("text", { x: label + w + 8, y: y + bar / 2, class: "bar-value", "dominant-baseline": "middle" }, formatMoney(sale.revenue)),
    );
    row.firstChild.append(svg("title", {}, sale.productname));
    chart.append(row);
  });
  return chart;
}
