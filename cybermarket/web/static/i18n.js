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
  "Loading the shop…": "正在加载商城…",
  "Store console for merchants": "商家店铺后台",
  "Sold out": "已售罄",
  "Only {n} left": "仅剩 {n} 件",
  "In stock": "有货",
  "Add to cart": "加入购物车",
  Quantity: "数量",
  "Quantity of {name}": "{name} 的数量",
  "Please log in (Account) to add items to your cart.": "请先登录（账户）再把商品加入购物车。",
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
  "Added {n} items to your cart.": "已将 {n} 件商品加入购物车。",
  "Results for “{query}”": "“{query}”的搜索结果",
  "Nothing found for “{query}”.": "没有找到与“{query}”相关的商品。",
  Main: "主导航",
  "Connection lost. Reconnecting…": "连接已断开，正在重新连接…",
  "Reconnected.": "已重新连接。",
  "Show more": "显示更多",
  "Please log in to see this.": "请先登录再查看此页面。",
  "Log in or sign up": "登录或注册",
  "Your cart": "我的购物车",
  "Your cart is empty.": "购物车还是空的。",
  "Browse the stores": "去逛逛店铺",
  Update: "更新",
  Remove: "移除",
  Product: "商品",
  Price: "价格",
  Actions: "操作",
  Total: "合计",
  "Check out": "结账",
  "Thank you!": "感谢您的购买！",
  "Order #{id} is placed. Total {total}.": "订单 #{id} 已提交，合计 {total}。",
  "See your orders": "查看我的订单",
  "Your orders": "我的订单",
  "Show items": "查看商品",
  "Hide items": "收起商品",
  "Price paid": "成交价",
  "Order #{id}": "订单 #{id}",
  "Older orders": "更早的订单",
  "No orders yet.": "还没有订单。",
  "Username or email": "用户名或邮箱",
  Password: "密码",
  "Create an account": "注册账户",
  Username: "用户名",
  Email: "邮箱",
  "Password (8 or more characters)": "密码（至少 8 个字符）",
  "Sign up": "注册",
  "Log out": "退出登录",
  "Change username": "修改用户名",
  "New username": "新用户名",
  Save: "保存",
  "Your username is changed.": "用户名已修改。",
  "Change email": "修改邮箱",
  "New email": "新邮箱",
  "Your email is changed.": "邮箱已修改。",
  "Change password": "修改密码",
  "Current password": "当前密码",
  "New password": "新密码",
  "Your password is changed.": "密码已修改。",
  "Your account": "我的账户",
  "Signed in as {name}": "当前登录：{name}",
  username: "用户名",
  "store name": "店铺名称",
  "email address": "邮箱地址",
  password: "密码",
  "new password": "新密码",
  "current password": "当前密码",
  "product name": "商品名称",
  description: "介绍",
  price: "价格",
  quantity: "数量",
  stock: "库存",
  "invitation code": "邀请码",
  "inviting store": "邀请方店铺",
  login: "登录名",
  search: "搜索词",
  "The connection to the shop was lost. Please try again in a moment.": "与商城的连接已断开，请稍后再试。",
  "Please check the {field}: {detail}.": "请检查{field}：{detail}。",
  "That did not work: {message}.": "操作没有成功：{message}。",
  "That login and password do not match.": "登录名或密码不正确。",
  "Your session has ended. Please log in again.": "会话已结束，请重新登录。",
  "Please log in first.": "请先登录。",
  "Your current password is not right.": "当前密码不正确。",
  "You are not allowed to do that.": "您无权执行此操作。",
  "That product is no longer on sale.": "该商品已下架。",
  "That store does not exist.": "该店铺不存在。",
  "That could not be found; it may have just been removed.": "没有找到，可能刚刚被删除了。",
  "That invitation code is not valid: it may be used, expired, or from another store.": "邀请码无效：可能已被使用、已过期，或来自其他店铺。",
  "That {field} is already taken. Please choose another.": "该{field}已被占用，请换一个。",
  "That could not be done: {message}.": "无法完成：{message}。",
  "That is too long to send.": "内容太长，无法发送。",
  "Too many attempts: {detail}.": "尝试次数过多：{detail}。",
  "The shop is busy or restarting. Please try again in a moment.": "商城正忙或正在重启，请稍后再试。",
  "Something went wrong on our side. Please try again.": "我们这边出了点问题，请重试。",
  "Sorry, not enough stock left for {list}. Nothing was charged and your cart is unchanged.": "抱歉，以下商品库存不足：{list}。没有扣款，购物车也没有变化。",
  "Store console · cybermarket": "店铺后台 · cybermarket",
  "Store console": "店铺后台",
  Console: "后台导航",
  Products: "商品",
  Sales: "销售",
  Invite: "邀请",
  Settings: "设置",
  "Loading…": "正在加载…",
  "Back to the storefront": "返回商城",
  "your store": "您的店铺",
  "Products of {store}": "{store} 的商品",
  "Your products": "我的商品",
  "Log in to your store": "登录店铺",
  "Store name or email": "店铺名称或邮箱",
  "Open a store": "开设店铺",
  "Invitation code": "邀请码",
  "Inviting store's name (leave empty for a code from the operator)": "邀请方店铺名称（邀请码来自平台运营方时请留空）",
  "Store name": "店铺名称",
  "About your store": "店铺介绍",
  "Open my store": "开设我的店铺",
  "Sell on cybermarket": "在 cybermarket 开店",
  "Log in to your store, or open one with an invitation code.": "登录您的店铺，或凭邀请码开设新店。",
  "Take off shelf": "下架",
  "Put on shelf": "上架",
  Edit: "编辑",
  Restock: "补货",
  Stock: "库存",
  Shelf: "状态",
  "On shelf": "在售",
  "Off shelf": "已下架",
  "Units to add to {name}": "{name} 的补货数量",
  Name: "名称",
  Description: "介绍",
  Cancel: "取消",
  "Saved.": "已保存。",
  "Add a product": "添加商品",
  "Price (such as 19.99)": "价格（例如 19.99）",
  "Units in stock": "库存数量",
  "Add product": "添加",
  "Added {name}.": "已添加 {name}。",
  "No products yet: add your first one below.": "还没有商品，在下方添加第一件吧。",
  "Revenue per product": "各商品收入",
  "Units sold": "售出件数",
  Revenue: "收入",
  "No sales yet.": "还没有销售记录。",
  "Revenue so far": "累计收入",
  "Create an invitation code": "生成邀请码",
  Copy: "复制",
  "Copied.": "已复制。",
  "Press Ctrl+C (or ⌘C) to copy.": "请按 Ctrl+C（或 ⌘C）复制。",
  "Give the new store this code, single use, together with your store name:": "请把这个一次性邀请码连同您的店铺名称一起交给新店铺：",
  "Inviting store: {name}": "邀请方店铺：{name}",
  "Invite a store": "邀请店铺",
  "Stores join by invitation. A code works once.": "店铺须凭邀请加入，每个邀请码只能使用一次。",
  "New store name": "新店铺名称",
  "Your store name is changed.": "店铺名称已修改。",
  "Your description is saved.": "店铺介绍已保存。",
  "{name} ({n} left)": "{name}（仅剩 {n} 件）",
  "No longer on sale: {list}. Please remove it from your cart.": "以下商品已停售：{list}。请把它从购物车中移除。",
  "No longer on sale": "已停售",
  "Only {n} left: lower the quantity": "仅剩 {n} 件：请减少数量",
  "Not enough stock for {list}. Please lower the quantity before checking out.": "库存不足：{list}。请在结账前减少数量。",
  "Please enter a whole number of 1 or more for {name}.": "请为 {name} 输入 1 或更大的整数。",
  "You changed the quantity of {list} but did not save it: press Update, or put the number back.": "您修改了 {list} 的数量但还没有保存：请点击“更新”，或把数量改回去。",
  "Sorry, not enough stock left for {list}. Please lower the quantity before checking out.": "抱歉，以下商品库存不足：{list}。请在结账前减少数量。",
  "The total changed from {before} to {now} since your cart was shown: a price changed. Please check it.": "自购物车显示以来，合计已从 {before} 变为 {now}：有商品改了价格。请核对。",
  "Place order": "提交订单",
  "Back to cart": "返回购物车",
  "Review your order": "核对订单",
  "Subtotal": "小计",
  "Total to pay": "应付合计",
  "The total changed from {before} to {now} while you were reviewing: a price changed. Nothing was charged. Please check it and place the order again.": "您核对订单期间，合计已从 {before} 变为 {now}：有商品改了价格。没有扣款。请核对后重新提交订单。",
  "Sorry, the stock changed. Nothing was charged and your cart is unchanged.": "抱歉，库存有变化。没有扣款，购物车也没有变化。",
  "Only {n} left, and {count} already in your cart.": "仅剩 {n} 件，您的购物车里已有 {count} 件。",
  "Only {n} left: please choose {n} or fewer.": "仅剩 {n} 件：请选择不超过 {n} 件。",
  "Sold out: please remove it": "已售罄：请移除",
  "Nothing to save: the store name is as it was.": "没有需要保存的内容：店铺名称没有改动。",
  "Nothing to save: the description is as it was.": "没有需要保存的内容：店铺介绍没有改动。",
  "Nothing to save: the email is as it was.": "没有需要保存的内容：邮箱没有改动。",
  "Nothing to save: the username is as it was.": "没有需要保存的内容：用户名没有改动。",
  "Please enter a whole number of units, 1 or more.": "请输入 1 或更大的整数件数。",
  "A price cannot be below zero.": "价格不能小于零。",
  "Please write the price as a number, such as {example}.": "请用数字填写价格，例如 {example}。",
  "Please enter a whole number, 0 or more.": "请输入 0 或更大的整数。",
  "Please enter a whole number of 1 or more.": "请输入 1 或更大的整数。",
  "{n} of {max} characters": "{n} / {max} 个字符",
};

const RU = {
  "Skip to content": "Перейти к содержимому",
  Stores: "Магазины",
  Cart: "Корзина",
  Orders: "Заказы",
  "Log in": "Войти",
  Language: "Язык",
  "Loading the shop…": "Загружаем витрину…",
  "Store console for merchants": "Кабинет продавца",
  "Sold out": "Нет в наличии",
  "Only {n} left": { one: "Осталась {n} штука", few: "Осталось {n} штуки", many: "Осталось {n} штук", other: "Осталось {n} штуки" },
  "In stock": "В наличии",
  "Add to cart": "В корзину",
  Quantity: "Количество",
  "Quantity of {name}": "Количество: {name}",
  "Please log in (Account) to add items to your cart.": "Чтобы добавлять товары в корзину, войдите (раздел «Аккаунт»).",
  "Search {store}": "Поиск в магазине {store}",
  "Search every store": "Поиск по всем магазинам",
  "Search in {store}": "Поиск в магазине {store}",
  "Search products in every store": "Поиск товаров во всех магазинах",
  Search: "Поиск",
  "Searching…": "Ищем…",
  "More results": "Ещё результаты",
  "No description yet.": "Описания пока нет.",
  "More stores": "Ещё магазины",
  "Find something good": "Найдите что-нибудь по душе",
  "Independent stores, one cart.": "Независимые магазины, одна корзина.",
  "No stores have opened yet.": "Пока не открылся ни один магазин.",
  "More products": "Ещё товары",
  "This store has nothing on its shelves right now.": "Сейчас на полках этого магазина ничего нет.",
  "Added {n} items to your cart.": { one: "В корзину добавлен {n} товар.", few: "В корзину добавлено {n} товара.", many: "В корзину добавлено {n} товаров.", other: "В корзину добавлено {n} товара." },
  "Results for “{query}”": "Результаты по запросу «{query}»",
  "Nothing found for “{query}”.": "По запросу «{query}» ничего не найдено.",
  Main: "Основное меню",
  "Connection lost. Reconnecting…": "Связь потеряна. Подключаемся снова…",
  "Reconnected.": "Связь восстановлена.",
  "Show more": "Показать ещё",
  "Please log in to see this.": "Войдите, чтобы увидеть эту страницу.",
  "Log in or sign up": "Войти или зарегистрироваться",
  "Your cart": "Ваша корзина",
  "Your cart is empty.": "Корзина пуста.",
  "Browse the stores": "Перейти к магазинам",
  Update: "Обновить",
  Remove: "Удалить",
  Product: "Товар",
  Price: "Цена",
  Actions: "Действия",
  Total: "Итого",
  "Check out": "Оформить заказ",
  "Thank you!": "Спасибо за покупку!",
  "Order #{id} is placed. Total {total}.": "Заказ № {id} оформлен. Сумма: {total}.",
  "See your orders": "Перейти к заказам",
  "Your orders": "Ваши заказы",
  "Show items": "Показать товары",
  "Hide items": "Скрыть товары",
  "Price paid": "Цена при покупке",
  "Order #{id}": "Заказ № {id}",
  "Older orders": "Более ранние заказы",
  "No orders yet.": "Заказов пока нет.",
  "Username or email": "Имя пользователя или эл. почта",
  Password: "Пароль",
  "Create an account": "Регистрация",
  Username: "Имя пользователя",
  Email: "Электронная почта",
  "Password (8 or more characters)": "Пароль (не менее 8 символов)",
  "Sign up": "Зарегистрироваться",
  "Log out": "Выйти",
  "Change username": "Смена имени пользователя",
  "New username": "Новое имя пользователя",
  Save: "Сохранить",
  "Your username is changed.": "Имя пользователя изменено.",
  "Change email": "Смена электронной почты",
  "New email": "Новый адрес электронной почты",
  "Your email is changed.": "Адрес электронной почты изменён.",
  "Change password": "Смена пароля",
  "Current password": "Текущий пароль",
  "New password": "Новый пароль",
  "Your password is changed.": "Пароль изменён.",
  "Your account": "Ваш аккаунт",
  "Signed in as {name}": "Вы вошли как {name}",
  username: "имя пользователя",
  "store name": "название магазина",
  "email address": "адрес электронной почты",
  password: "пароль",
  "new password": "новый пароль",
  "current password": "текущий пароль",
  "product name": "название товара",
  description: "описание",
  price: "цена",
  quantity: "количество",
  stock: "остаток на складе",
  "invitation code": "код приглашения",
  "inviting store": "пригласивший магазин",
  login: "логин",
  search: "поисковый запрос",
  "The connection to the shop was lost. Please try again in a moment.": "Связь с сервером прервалась. Попробуйте ещё раз чуть позже.",
  "Please check the {field}: {detail}.": "Проверьте поле «{field}»: {detail}.",
  "That did not work: {message}.": "Не получилось: {message}.",
  "That login and password do not match.": "Неверный логин или пароль.",
  "Your session has ended. Please log in again.": "Сеанс завершён. Войдите снова.",
  "Please log in first.": "Сначала войдите.",
  "Your current password is not right.": "Текущий пароль указан неверно.",
  "You are not allowed to do that.": "У вас нет прав на это действие.",
  "That product is no longer on sale.": "Этот товар больше не продаётся.",
  "That store does not exist.": "Такого магазина нет.",
  "That could not be found; it may have just been removed.": "Не найдено: возможно, это только что удалили.",
  "That invitation code is not valid: it may be used, expired, or from another store.": "Код приглашения недействителен: возможно, он уже использован, истёк или выдан другим магазином.",
  "That {field} is already taken. Please choose another.": "Это значение поля «{field}» уже занято. Выберите другое.",
  "That could not be done: {message}.": "Не удалось выполнить: {message}.",
  "That is too long to send.": "Текст слишком длинный, отправить его нельзя.",
  "Too many attempts: {detail}.": "Слишком много попыток: {detail}.",
  "The shop is busy or restarting. Please try again in a moment.": "Сервер перегружен или перезапускается. Попробуйте ещё раз чуть позже.",
  "Something went wrong on our side. Please try again.": "У нас что-то пошло не так. Попробуйте ещё раз.",
  "Sorry, not enough stock left for {list}. Nothing was charged and your cart is unchanged.": "К сожалению, на складе не хватает товаров: {list}. Деньги не списаны, корзина не изменилась.",
  "Store console · cybermarket": "Кабинет продавца · cybermarket",
  "Store console": "Кабинет продавца",
  Console: "Меню кабинета",
  Products: "Товары",
  Sales: "Продажи",
  Invite: "Приглашения",
  Settings: "Настройки",
  "Loading…": "Загрузка…",
  "Back to the storefront": "Вернуться на витрину",
  "your store": "ваш магазин",
  "Products of {store}": "Товары магазина {store}",
  "Your products": "Ваши товары",
  "Log in to your store": "Вход в магазин",
  "Store name or email": "Название магазина или эл. почта",
  "Open a store": "Открыть магазин",
  "Invitation code": "Код приглашения",
  "Inviting store's name (leave empty for a code from the operator)": "Название пригласившего магазина (оставьте пустым, если код выдал оператор площадки)",
  "Store name": "Название магазина",
  "About your store": "О вашем магазине",
  "Open my store": "Открыть свой магазин",
  "Sell on cybermarket": "Продавайте на cybermarket",
  "Log in to your store, or open one with an invitation code.": "Войдите в свой магазин или откройте новый по коду приглашения.",
  "Take off shelf": "Снять с продажи",
  "Put on shelf": "Вернуть в продажу",
  Edit: "Изменить",
  Restock: "Пополнить",
  Stock: "Остаток",
  Shelf: "Статус",
  "On shelf": "В продаже",
  "Off shelf": "Снят с продажи",
  "Units to add to {name}": "Сколько добавить на склад: {name}",
  Name: "Название",
  Description: "Описание",
  Cancel: "Отмена",
  "Saved.": "Сохранено.",
  "Add a product": "Новый товар",
  "Price (such as 19.99)": "Цена (например, 19,99)",
  "Units in stock": "Количество на складе",
  "Add product": "Добавить товар",
  "Added {name}.": "Товар «{name}» добавлен.",
  "No products yet: add your first one below.": "Товаров пока нет — добавьте первый ниже.",
  "Revenue per product": "Выручка по товарам",
  "Units sold": "Продано, шт.",
  Revenue: "Выручка",
  "No sales yet.": "Продаж пока нет.",
  "Revenue so far": "Выручка за всё время",
  "Create an invitation code": "Создать код приглашения",
  Copy: "Копировать",
  "Copied.": "Скопировано.",
  "Press Ctrl+C (or ⌘C) to copy.": "Нажмите Ctrl+C (или ⌘C), чтобы скопировать.",
  "Give the new store this code, single use, together with your store name:": "Передайте новому магазину этот одноразовый код вместе с названием вашего магазина:",
  "Inviting store: {name}": "Пригласивший магазин: {name}",
  "Invite a store": "Пригласить магазин",
  "Stores join by invitation. A code works once.": "Магазины присоединяются по приглашению. Каждый код действует один раз.",
  "New store name": "Новое название магазина",
  "Your store name is changed.": "Название магазина изменено.",
  "Your description is saved.": "Описание сохранено.",
  "{name} ({n} left)": { one: "{name} (осталась {n} штука)", few: "{name} (осталось {n} штуки)", many: "{name} (осталось {n} штук)", other: "{name} (осталось {n} штуки)" },
  "No longer on sale: {list}. Please remove it from your cart.": "Больше не продаётся: {list}. Уберите это из корзины.",
  "No longer on sale": "Больше не продаётся",
  "Only {n} left: lower the quantity": { one: "Осталась {n} штука: уменьшите количество", few: "Осталось {n} штуки: уменьшите количество", many: "Осталось {n} штук: уменьшите количество", other: "Осталось {n} штуки: уменьшите количество" },
  "Not enough stock for {list}. Please lower the quantity before checking out.": "Не хватает товара на складе: {list}. Уменьшите количество перед оформлением заказа.",
  "Please enter a whole number of 1 or more for {name}.": "Введите целое число от 1 для товара «{name}».",
  "You changed the quantity of {list} but did not save it: press Update, or put the number back.": "Вы изменили количество ({list}), но не сохранили его: нажмите «Обновить» или верните прежнее число.",
  "Sorry, not enough stock left for {list}. Please lower the quantity before checking out.": "К сожалению, на складе не хватает товаров: {list}. Уменьшите количество перед оформлением заказа.",
  "The total changed from {before} to {now} since your cart was shown: a price changed. Please check it.": "С тех пор как была показана корзина, сумма изменилась с {before} на {now}: изменилась цена. Проверьте, пожалуйста.",
  "Place order": "Подтвердить заказ",
  "Back to cart": "Назад в корзину",
  "Review your order": "Проверьте заказ",
  "Subtotal": "Стоимость",
  "Total to pay": "К оплате",
  "The total changed from {before} to {now} while you were reviewing: a price changed. Nothing was charged. Please check it and place the order again.": "Пока вы проверяли заказ, сумма изменилась с {before} на {now}: изменилась цена. Деньги не списаны. Проверьте и подтвердите заказ ещё раз.",
  "Sorry, the stock changed. Nothing was charged and your cart is unchanged.": "К сожалению, остатки на складе изменились. Деньги не списаны, корзина не изменилась.",
  "Only {n} left, and {count} already in your cart.": { one: "Осталась {n} штука, и {count} уже в вашей корзине.", few: "Осталось {n} штуки, и {count} уже в вашей корзине.", many: "Осталось {n} штук, и {count} уже в вашей корзине.", other: "Осталось {n} штуки, и {count} уже в вашей корзине." },
  "Only {n} left: please choose {n} or fewer.": { one: "Осталась {n} штука: выберите не больше {n}.", few: "Осталось {n} штуки: выберите не больше {n}.", many: "Осталось {n} штук: выберите не больше {n}.", other: "Осталось {n} штуки: выберите не больше {n}." },
  "Sold out: please remove it": "Нет в наличии: уберите из корзины",
  "Nothing to save: the store name is as it was.": "Сохранять нечего: название магазина не изменилось.",
  "Nothing to save: the description is as it was.": "Сохранять нечего: описание не изменилось.",
  "Nothing to save: the email is as it was.": "Сохранять нечего: адрес почты не изменился.",
  "Nothing to save: the username is as it was.": "Сохранять нечего: имя пользователя не изменилось.",
  "Please enter a whole number of units, 1 or more.": "Введите целое число штук, не меньше 1.",
  "A price cannot be below zero.": "Цена не может быть меньше нуля.",
  "Please write the price as a number, such as {example}.": "Укажите цену числом, например {example}.",
  "Please enter a whole number, 0 or more.": "Введите целое число, не меньше 0.",
  "Please enter a whole number of 1 or more.": "Введите целое число, не меньше 1.",
  "{n} of {max} characters": "{n} из {max} символов",
};

// English needs entries only for counted sentences (tn): their forms.
const EN = {
  "Only {n} left": { one: "Only {n} left", other: "Only {n} left" },
  "Added {n} items to your cart.": { one: "Added {n} item to your cart.", other: "Added {n} items to your cart." },
  "{name} ({n} left)": { one: "{name} ({n} left)", other: "{name} ({n} left)" },
  "Only {n} left: lower the quantity": { one: "Only {n} left: lower the quantity", other: "Only {n} left: lower the quantity" },
  "Only {n} left, and {count} already in your cart.": { one: "Only {n} left, and {count} already in your cart.", other: "Only {n} left, and {count} already in your cart." },
  "Only {n} left: please choose {n} or fewer.": { one: "Only {n} left: please choose {n} or fewer.", other: "Only {n} left: please choose {n} or fewer." },
};

export const CATALOGS = { en: EN, "zh-CN": ZH, ru: RU };

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

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

// A word or sentence in the page's language; {name} placeholders filled in
// with values, which are never translated.
export function t(key, params = {}) {
  const text = CATALOGS[language][key];
  return fill(typeof text === "string" && text ? text : key, params);
}

// A sentence with a count n, in the plural form the language's rules
// (Intl.PluralRules, CLDR) choose: Russian one/few/many, English one/other;
// an entry that is a plain string serves every count (Chinese).
const plurals = new Intl.PluralRules(language);
export function tn(key, n, params = {}) {
  const entry = CATALOGS[language][key] || CATALOGS.en[key] || key;
  const text = typeof entry === "string" ? entry : entry[plurals.select(n)] || entry.other;
  return fill(text, { n: new Intl.NumberFormat(language).format(n), ...params });
}

// A translated sentence as pieces for h(): the placeholders become the
// values given, which may be elements ("Signed in as {name}" with <strong>).
export function parts(key, params = {}) {
  const text = t(key);
  return text.split(/(\{\w+\})/).map((piece) => {
    const match = /^\{(\w+)\}$/.exec(piece);
    return match && match[1] in params ? params[match[1]] : piece;
  });
}

// Names joined as the language joins a list ("a, b and c", "a、b和c").
export function list(names) {
  return new Intl.ListFormat(language, { style: "long", type: "conjunction" }).format(names);
}

export function setLanguage(tag) {
  localStorage.setItem(KEY, tag);
  location.reload();
}

// Words written in the HTML: elements with data-i18n hold their key, and
// data-i18n-label the key of their aria-label.
export function translatePage(root = document) {
  /** @type {NodeListOf<HTMLElement>} */
  const texts = root.querySelectorAll("[data-i18n]");
  for (const node of texts) node.textContent = t(node.dataset.i18n);
  /** @type {NodeListOf<HTMLElement>} */
  const labels = root.querySelectorAll("[data-i18n-label]");
  for (const node of labels) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
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

export function formatCount(n) {
  return new Intl.NumberFormat(language).format(n);
}

export function formatDate(date) {
  return date.toLocaleString(language, { dateStyle: "medium", timeStyle: "short" });
}
