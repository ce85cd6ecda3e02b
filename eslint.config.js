// ESLint over the storefront's and the console's modules (`make lint`):
// its recommended rules, no-undef among them, with the browser's globals.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["cybermarket/web/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
  },
];
