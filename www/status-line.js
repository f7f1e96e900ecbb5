// The progress bar, status text and error line under every section of the demo page and every
// widget: one implementation, so downloads, steps and failures read the same everywhere.

const kib = (bytes) => `${Math.round(bytes / 1024)} KiB`;

export class StatusLine {
  #bar;
  #text;
  #error;

  /** `bar` (a <progress>), `text` and `error` are elements; `bar` and `error` may be absent. */
  constructor({ bar, text, error }) {
    this.#bar = bar;
    this.#text = text;
    this.#error = error;
  }

  /** Say what is happening. */
  say(text) {
    this.#text.textContent = text;
  }

  /** Show `value` of `max` on the bar, or hide the bar when called without a value. */
  progress(value, max) {
    if (!this.#bar) return;
    this.#bar.hidden = value === undefined;
    if (value === undefined) return;
    this.#bar.max = max;
    this.#bar.value = value;
  }

  /** A download as kiln.js reports it ({ loaded, total }): "Loading gan… 12 KiB of 96 KiB". */
  downloading({ loaded, total }, what) {
    this.progress(loaded, total ?? loaded);
    this.say(`${what}… ${kib(loaded)}${total ? ` of ${kib(total)}` : ""}`);
  }

  /** Show `message` in the error line (read out by screen readers) and `status` as the status. */
  fail(message, status = "Something went wrong.") {
    this.#error.textContent = message;
    this.#error.hidden = false;
    this.say(status);
  }

  /** Hide the error line: a new attempt has begun. */
  clearError() {
    if (this.#error) this.#error.hidden = true;
  }
}
