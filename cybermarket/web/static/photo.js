// A product's photo in the store console (protocol 1.3): the field of the
// add and edit forms (a file picker and a drop zone, a preview before
// upload, a progress bar while it goes), the upload and the removal over
// HTTP with the merchant's session token, and the thumbnail of the list.
//
// The server takes a whole JPEG, PNG or WebP of at most 8 MiB (its default
// --photo-max-bytes), 40 megapixels and 10,000 pixels a side, and keeps it
// at 1600 x 1600 at the most.  A phone's photo is often over those limits,
// so a larger picture is drawn smaller here first (in its EXIF
// orientation) and that is sent: it also saves the person's data.

import { h, mistake, replace, say } from "./dom.js";
import { t } from "./i18n.js";
import { explain } from "./messages.js";
import { ServerError } from "./net.js";

export const ACCEPT = "image/jpeg,image/png,image/webp";
const MAX_BYTES = 8 * 1024 * 1024;
const MAX_PIXELS = 40_000_000;
const MAX_SIDE = 10_000;
// The server's large size: anything bigger is made smaller before upload.
const LARGE = 1600;
const QUALITY = 0.9;

/** @typedef {{ blob: Blob, width: number, height: number, shrunk: boolean }} Prepared */

function notAnImage() {
  return mistake(t("That file is not a picture. Please choose a JPEG, PNG or WebP photo."));
}

// Whether the file's first bytes are those of a JPEG, a PNG or a WebP (the
// server decides by the bytes, never by the name): a GIF or a BMP the
// browser can show is re-encoded rather than sent as it is.
async function kindOf(file) {
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  const ascii = (from, to) => String.fromCharCode(...head.slice(from, to));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
  if (ascii(1, 4) === "PNG" && head[0] === 0x89) return "png";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  return null;
}

/**
 * The picture drawn to fit LARGE x LARGE on a canvas, encoded as WebP (it
 * keeps transparency) or, where the browser cannot write WebP, as JPEG on
 * white.
 * @param {ImageBitmap} bitmap
 * @returns {Promise<Prepared>}
 */
async function shrink(bitmap) {
  const scale = Math.min(1, LARGE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(bitmap, 0, 0, width, height);
  const encode = (type) => new Promise((resolve) => canvas.toBlob(resolve, type, QUALITY));
  let blob = await encode("image/webp");
  if (!blob || blob.type !== "image/webp") {
    context.globalCompositeOperation = "destination-over";
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, width, height);
    blob = await encode("image/jpeg");
  }
  if (!blob) throw notAnImage();
  return { blob, width, height, shrunk: true };
}

/**
 * What to upload for a chosen file: the file itself when the server takes
 * it as it is, else the picture made smaller; a file the browser cannot
 * decode is not an image (a mistake in the person's words).
 * @param {File} file
 * @param {boolean} [force] make it smaller even when it fits (after a 413)
 * @returns {Promise<Prepared>}
 */
export async function prepare(file, force = false) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    throw notAnImage();
  }
  try {
    const { width, height } = bitmap;
    const side = Math.max(width, height);
    // The server's limits, then the large size (within them): a picture
    // larger than the server keeps is not worth sending whole.
    const fits = file.size <= MAX_BYTES && width * height <= MAX_PIXELS && side <= MAX_SIDE && side <= LARGE;
    if (fits && !force && (await kindOf(file))) return { blob: file, width, height, shrunk: false };
    return await shrink(bitmap);
  } finally {
    bitmap.close();
  }
}

/**
 * One request to /photos/<id> with the merchant's token (never a cookie);
 * resolves with the answer's data, rejects with a ServerError (status 0
 * when the connection failed).
 * @param {"PUT" | "DELETE"} method
 * @param {number} productId
 * @param {string | null} token
 * @param {Blob | null} body
 * @param {(fraction: number) => void} [progress]
 * @returns {Promise<{photo: string | null}>}
 */
function request(method, productId, token, body, progress) {
  const op = `${method} /photos`;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, `/photos/${encodeURIComponent(productId)}`);
    xhr.withCredentials = false;
    xhr.setRequestHeader("Authorization", `Bearer ${token || ""}`);
    if (progress) {
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && event.total > 0) progress(event.loaded / event.total);
      });
    }
    xhr.addEventListener("load", () => {
      let answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch {
        // A proxy's page, say: judged by the HTTP status below.
      }
      if (xhr.status === 200 && answer && answer.data) resolve(answer.data);
      else reject(new ServerError(op, answer && typeof answer === "object" ? { ...answer, status: xhr.status } : { status: xhr.status, message: xhr.statusText }));
    });
    const failed = () => reject(new ServerError(op, { status: 0, message: "" }));
    xhr.addEventListener("error", failed);
    xhr.addEventListener("timeout", failed);
    xhr.addEventListener("abort", failed);
    xhr.send(body);
  });
}

// A sentence for a refused upload or removal, by the answer's code (and
// its status, from a server or a proxy that sends no code).
export function photoError(error) {
  if (!(error instanceof ServerError)) return error.human || error.message;
  if (error.code === "invalid_argument" || (!error.code && error.status === 400)) return t("That file is not a picture. Please choose a JPEG, PNG or WebP photo.");
  if (error.code === "frame_too_large" || error.status === 413) return t("That photo is too large to upload. Please choose a smaller one.");
  if (error.code === "bad_credentials" || error.status === 401) return t("Your session has ended. Please log in again.");
  if (error.status === 0) return t("The photo could not be sent: the connection failed. Please try again.");
  return explain(error);
}

/**
 * A product's thumbnail for the list, or a neutral placeholder.
 * @param {string | null | undefined} path
 */
export function thumbnail(path) {
  if (!path) return h("span", { class: "product-thumb placeholder", "aria-hidden": "true" });
  return h("img", { class: "product-thumb", src: `${path}?size=thumb`, alt: "", width: 56, height: 56, loading: "lazy", decoding: "async" });
}

let fields = 0;

/**
 * The photo field of a product form.  `current`: the product's photo path
 * (edit) or null; `productId()`: the product's id once it is known (for
 * Remove photo); `token()`: the merchant's session token.
 */
export class PhotoField {
  /**
   * @param {{ current: string | null, productId?: () => number | null, token: () => string | null, removed?: () => void }} options
   */
  constructor(options) {
    this.options = options;
    this.current = options.current;
    /** @type {File | null} */
    this.file = null;
    /** @type {Promise<Prepared> | null} */
    this.checked = null;
    // The file chosen last was no picture.
    this.refused = false;
    const id = `photo${++fields}`;
    this.input = h("input", { id, type: "file", accept: ACCEPT, class: "photo-input visually-hidden", "aria-describedby": `${id}-hint ${id}-status` });
    this.picture = h("div", { class: "photo-picture" });
    this.caption = h("p", { class: "photo-caption muted" });
    this.progress = h("progress", { class: "photo-progress", max: 100, "aria-label": t("Uploading the photo"), hidden: true });
    this.status = h("p", { class: "photo-status", role: "status", "aria-live": "polite", id: `${id}-status` });
    this.buttons = h("div", { class: "photo-buttons" });
    this.zone = h(
      "div",
      { class: "drop-zone" },
      this.picture,
      h("div", { class: "photo-side" }, this.caption, h("p", { class: "photo-hint muted", id: `${id}-hint` }, t("Drop a photo here, or choose one. JPEG, PNG or WebP; a large photo is made smaller before it is sent.")), this.buttons),
    );
    this.node = h("div", { class: "field photo-field" }, h("label", { for: id, class: "photo-label" }, t("Photo")), this.input, this.zone, this.progress, this.status);
    this.input.addEventListener("change", () => {
      const [file] = this.input.files || [];
      if (file) this.choose(file);
    });
    this.dropping();
    this.show();
  }

  // Drag and drop onto the zone, as the picker.
  dropping() {
    const over = (event) => {
      if (!event.dataTransfer || !Array.from(event.dataTransfer.types || []).includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      this.zone.classList.add("over");
    };
    this.zone.addEventListener("dragenter", over);
    this.zone.addEventListener("dragover", over);
    this.zone.addEventListener("dragleave", () => this.zone.classList.remove("over"));
    this.zone.addEventListener("drop", (event) => {
      event.preventDefault();
      this.zone.classList.remove("over");
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file) this.choose(file);
    });
  }

  /** @param {File} file */
  choose(file) {
    this.file = file;
    this.refused = false;
    this.checked = prepare(file);
    say(this.status, "");
    this.input.removeAttribute("aria-invalid");
    this.show();
    // Said at once; the form's submit says it again (prepared()), and
    // sends nothing, until another file is chosen or the choice cleared.
    this.checked.catch((error) => {
      if (this.file !== file) return;
      this.file = null;
      this.refused = true;
      this.input.value = "";
      this.show();
      this.input.setAttribute("aria-invalid", "true");
      say(this.status, error.human || error.message, "error");
    });
  }

  // The chosen file's preview (an object URL, given back once shown), or
  // the product's photo, or a placeholder; with the buttons that apply.
  show() {
    const choose = h("label", { for: this.input.id, class: "button secondary choose" }, this.current || this.file ? t("Choose another photo") : t("Choose a photo"));
    const buttons = [choose];
    const undo = h("button", { type: "button", class: "secondary undo-photo" }, t("Clear the choice"));
    undo.addEventListener("click", () => this.clear());
    if (this.file || this.refused) buttons.push(undo);
    if (this.file) {
      const url = URL.createObjectURL(this.file);
      const preview = h("img", { class: "photo-preview", src: url, alt: t("Preview of the chosen photo") });
      const revoke = () => URL.revokeObjectURL(url);
      preview.addEventListener("load", revoke);
      preview.addEventListener("error", revoke);
      replace(this.picture, preview);
      this.caption.textContent = t("New photo, sent when you save: {name}", { name: this.file.name });
    } else if (this.current) {
      replace(this.picture, h("img", { class: "photo-current", src: `${this.current}?size=thumb`, alt: t("The product's photo") }));
      this.caption.textContent = t("The product's photo");
      const remove = h("button", { type: "button", class: "danger remove-photo" }, t("Remove photo"));
      remove.addEventListener("click", () => this.remove(remove));
      if (this.options.productId) buttons.push(remove);
    } else {
      replace(this.picture, h("span", { class: "product-thumb placeholder", "aria-hidden": "true" }));
      this.caption.textContent = t("No photo yet.");
    }
    replace(this.buttons, buttons);
  }

  // No photo chosen; `current` the photo now shown (after an added
  // product's upload, the empty form's none).
  clear(current = this.current) {
    this.current = current;
    this.file = null;
    this.checked = null;
    this.refused = false;
    this.input.value = "";
    this.input.removeAttribute("aria-invalid");
    say(this.status, "");
    this.show();
  }

  // The chosen picture, checked and made smaller where needed, or null
  // when none is chosen; throws the mistake of a file that is no picture.
  prepared() {
    return this.checked || Promise.resolve(null);
  }

  /**
   * Uploads the prepared picture to the product, the bar showing how much
   * is sent; the product's new path.  A 413 (a server with a lower limit)
   * is tried once more with the picture made smaller.
   * @param {number} productId
   * @param {Prepared} prepared
   */
  async upload(productId, prepared) {
    // Without a value the bar moves on its own (indeterminate) until the
    // browser says how much is sent.
    this.progress.removeAttribute("value");
    this.progress.hidden = false;
    // No other choice while this one is on its way.
    this.zone.inert = true;
    const moved = (fraction) => {
      this.progress.value = Math.round(fraction * 100);
    };
    try {
      let data;
      try {
        data = await request("PUT", productId, this.options.token(), prepared.blob, moved);
      } catch (error) {
        if (!(error instanceof ServerError && error.status === 413 && !prepared.shrunk && this.file)) throw error;
        data = await request("PUT", productId, this.options.token(), (await prepare(this.file, true)).blob, moved);
      }
      this.progress.value = 100;
      this.current = data.photo;
      this.file = null;
      this.checked = null;
      this.input.value = "";
      this.show();
      return data.photo;
    } catch (error) {
      error.human = photoError(error);
      error.field = null;
      say(this.status, error.human, "error");
      throw error;
    } finally {
      this.progress.hidden = true;
      this.zone.inert = false;
    }
  }

  /** @param {HTMLButtonElement} button */
  async remove(button) {
    button.disabled = true;
    try {
      await request("DELETE", this.options.productId(), this.options.token(), null);
      this.current = null;
      this.show();
      say(this.status, t("Photo removed."), "ok");
      if (this.options.removed) this.options.removed();
    } catch (error) {
      button.disabled = false;
      say(this.status, photoError(error), "error");
    }
  }
}
