// Hearing Kiln's clips through Web Audio (the demo page and the widgets).

let context; // one AudioContext per page, made on first use

/** Play `clip` (`{ sampleRate, samples }`, as `model.speak()` resolves). Browsers let a page
 * make sound only after the visitor has interacted with it: before that the clip is scheduled
 * in a suspended context and nothing is heard. Resolves to the function that stops it. */
export function playClip({ sampleRate, samples }) {
  context ??= new AudioContext();
  context.resume().catch(() => {}); // pending until the page has been interacted with
  const buffer = context.createBuffer(1, samples.length, sampleRate);
  buffer.copyToChannel(samples, 0);
  const source = context.createBufferSource();
  source.buffer = buffer;
  source.connect(context.destination);
  source.start();
  return () => source.stop();
}

/** How long `clip` lasts, in words: "0.77 s at 8000 Hz". */
export const describeClip = ({ sampleRate, samples }) => `${(samples.length / sampleRate).toFixed(2)} s at ${sampleRate} Hz`;
