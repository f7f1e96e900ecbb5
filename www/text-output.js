// Text as a model writes it, shown as it comes (the demo page and the widgets).

/** The prompt and the text written after it, in `output` (which it empties), with the count of
 * characters and the speed. The speed is timed from the first character: the prompt's one
 * longer read is not the rate. */
export class TextOutput {
  #output;
  #written;
  #started;
  count = 0;

  constructor(output, prompt) {
    this.#output = output;
    const prompted = document.createElement("b");
    prompted.className = "prompt";
    prompted.textContent = prompt;
    this.#written = document.createTextNode("");
    output.replaceChildren(prompted, this.#written);
  }

  /** Append a piece; keep it in view if the reader has not scrolled away from the end. */
  append(piece) {
    this.#started ??= performance.now();
    this.count += 1;
    this.#written.appendData(piece);
    const output = this.#output;
    if (output.scrollHeight - output.scrollTop - output.clientHeight < 40) output.scrollTop = output.scrollHeight;
  }

  /** The text written after the prompt. */
  get text() {
    return this.#written.data;
  }

  /** "12.3 characters/s", or "—" before there is a rate to tell. */
  get speed() {
    if (this.count < 2) return "—";
    const seconds = (performance.now() - this.#started) / 1000;
    return `${((this.count - 1) / seconds).toFixed(1)} characters/s`;
  }
}
