// The storefront's and the console's words in English, Simplified Chinese
// and Russian.  The language is the one chosen with the switcher
// (remembered in localStorage), else the best of the browser's languages,
// matched as the server matches tags: by language and script after CLDR's
// likely subtags (Intl.Locale.maximize), so zh-TW (Traditional) is not
// zh-CN.  The server is asked for the same language (SET_LANGUAGE, net.js).
// tests/test_i18n.py fails when a key used with t() lacks a translation.

export const LANGUAGES = { en: "English", "zh-CN": "简体中文", ru: "Русский" };
const KEY = "cybermarket.language";

const ZH = {
  "Skip to content": "跳到正文",
  Stores: "店铺",
  Cart: "购物车",
  Orders: "订单",
  "Log in": "登录",
  Language: "语言",
  "Loading the shop…": "正在加载商店…",
  "Store console for merchants": "商家店铺后台",
  "Sold out": "已售罄",
  "Only {n} left": "仅剩 {n} 件",
  "In stock": "有货",
  "Add to cart": "加入购物车",
  Quantity: "数量",
  "Quantity of {name}": "{name} 的数量",
  "Added to your cart.": "已加入购物车。",
  "Please log in (Account) to add items to your cart.": "请先登录（账户）再把商品加入购物车。",
  "Please enter a quantity of 1 or more.": "请输入 1 或更大的数量。",
  "Search {store}": "搜索 {store}",
  "Search every store": "搜索所有店铺",
  "Search in {store}": "在 {store} 中搜索",
  "Search products in every store": "在所有店铺中搜索商品",
  Search: "搜索",
  "Searching…": "正在搜索…",
  "More results": "更多结果",
  "No description yet.": "暂无介绍。",
  "More stores": "更多店铺",
  "Find something good": "发现好物",
  "Independent stores, one cart.": "众多独立小店，一个购物车。",
  "No stores have opened yet.": "还没有店铺开张。",
  "More products": "更多商品",
  "This store has nothing on its shelves right now.": "这家店铺目前没有上架的商品。",
};

const RU = {
  "Skip to content": "Перейти к содержимому",
  Stores: "Магазины",
  Cart: "Корзина",
  Orders: "Заказы",
  "Log in": "Войти",
  Language: "Язык",
  "Loading the shop…": "Загружаем магазин…",
  "Store console for merchants": "Кабинет продавца",
  "Sold out": "Нет в наличии",
  "Only {n} left": "Осталось: {n} шт.",
  "In stock": "В наличии",
  "Add to cart": "В корзину",
  Quantity: "Количество",
  "Quantity of {name}": "Количество: {name}",
  "Added to your cart.": "Добавлено в корзину.",
  "Please log in (Account) to add items to your cart.": "Чтобы добавлять товары в корзину, войдите (раздел «Аккаунт»).",
  "Please enter a quantity of 1 or more.": "Укажите количество не меньше 1.",
  "Search {store}": "Поиск в {store}",
  "Search every store": "Поиск по всем магазинам",
  "Search in {store}": "Поиск в магазине {store}",
  "Search products in every store": "Поиск товаров во всех магазинах",
  Search: "Поиск",
  "Searching…": "Ищем…",
  "More results": "Ещё результаты",
  "No description yet.": "Описания пока нет.",
  "More stores": "Ещё магазины",
  "Find something good": "Найдите что-нибудь хорошее",
  "Independent stores, one cart.": "Независимые магазины, одна корзина.",
  "No stores have opened yet.": "Пока не открылся ни один магазин.",
  "More products": "Ещё товары",
  "This store has nothing on its shelves right now.": "Сейчас на полках этого магазина ничего нет.",
};

export const CATALOGS = { en: {}, "zh-CN": ZH, ru: RU };

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

// A word or sentence in the page's language; {name} placeholders filled in
// with values, which are never translated.
export function t(key, params = {}) {
  const text = CATALOGS[language][key] || key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

export function setLanguage(tag) {
  localStorage.setItem(KEY, tag);
  location.reload();
}

// Words written in the HTML: elements with data-i18n hold their key.
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
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

export function formatDate(date) {
  return date.toLocaleString(language, { dateStyle: "medium", timeStyle: "short" });
}
