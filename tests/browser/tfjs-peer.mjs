// The benchmark's peer: TensorFlow.js running the same VAE decoder and GAN generator shapes as
// Kiln's shipped models (random weights), in the same page, its calls interleaved with Kiln's.
// Its upsampling runs both as transposed convolutions and as 2×2 conv2d + depthToSpace (the
// same multiply-adds through tfjs's faster kernels), and the faster form is the one compared.
// Needs `scripts/setup.sh --tfjs` (TensorFlow.js in target/tfjs).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

const TFJS = join(ROOT, "target/tfjs/node_modules/@tensorflow");
const SCRIPTS = ["tfjs-core/dist/tf-core.min.js", "tfjs-backend-wasm/dist/tf-backend-wasm.min.js", "tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js"];

export const tfjsInstalled = () => existsSync(join(TFJS, SCRIPTS.at(-1)));

/** Put TensorFlow.js into `page` (as global `tf`) with its wasm binaries served under /tfjs/. */
export async function addTfjs(page) {
  await page.route("**/tfjs/*.wasm", async (route) => {
    const name = new URL(route.request().url()).pathname.split("/").at(-1);
    route.fulfill({ contentType: "application/wasm", body: await readFile(join(TFJS, "tfjs-backend-wasm/dist", name)) });
  });
  for (const script of SCRIPTS) await page.addScriptTag({ path: join(TFJS, script) });
}

/**
 * Median milliseconds per call for Kiln's `vae` and `gan` drawing `batches` digits and for the
 * same networks in tfjs (on as many threads as Kiln's CPU backend), over `runs` interleaved rounds
 * after one warm-up round, each timing `timedPerRound` calls of every way back to back. Resolves
 * to rows `{ network, batch, kiln, deconv, depthToSpace }` (median ms), with the thread counts.
 */
export function measureAgainstTfjs(page, backend, { batches, runs, timedPerRound }) {
  return page.evaluate(
    async ({ backend, batches, runs, timedPerRound }) => {
      const tf = globalThis.tf;
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      await kiln.settled; // on an isolated page, on its threads
      tf.wasm.setWasmPaths(new URL("./tfjs/", location.href).href);
      // As many threads as Kiln's CPU backend uses. tfjs-wasm's threaded build sizes its worker
      // pool to half of `navigator.hardwareConcurrency` (at most 4) whatever `setThreadsCount`
      // asks (tensorflow/tfjs#5446, #8513), so on two cores it would stay on one thread: the page
      // reports twice the threads wanted while tfjs starts. Kiln's worker has its own navigator.
      Object.defineProperty(navigator, "hardwareConcurrency", { value: 2 * kiln.startup.threads, configurable: true });
      tf.wasm.setThreadsCount(kiln.startup.threads);
      await tf.setBackend(backend === "cpu" ? "wasm" : "webgpu");
      delete navigator.hardwareConcurrency; // the real figure again

      const normal = (shape, fanIn) => tf.randomNormal(shape, 0, 1 / Math.sqrt(fanIn), "float32", 1);
      const dense = (from, to) => ({ w: normal([from, to], from), b: tf.zeros([to]) });
      const apply = (layer, x) => tf.add(tf.matMul(x, layer.w), layer.b);
      // k4 s2 upsampling, as Kiln's decoders do it, or as the same multiply-adds in conv2d form.
      const upsample = (from, to) => ({
        deconv: normal([4, 4, to, from], 4 * from),
        conv: normal([2, 2, from, 4 * to], 4 * from),
        forward(x, form) {
          const [batch, height, width] = x.shape;
          if (form === "deconv") return tf.conv2dTranspose(x, this.deconv, [batch, 2 * height, 2 * width, to], 2, "same");
          return tf.depthToSpace(tf.conv2d(x, this.conv, 1, "same"), 2);
        },
      });
      const groupNorm = (x, groups) => {
        const [batch, height, width, channels] = x.shape;
        const grouped = tf.reshape(x, [batch, height, width, groups, channels / groups]);
        const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
        return tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-5))), x.shape);
      };
      // The shipped vae (latent 16, hidden 64, 64×7×7 features) and gan (latent 64, class
      // embedding 16, 64×7×7 features, group norms of 8) — see pretrained/manifest.json.
      const vae = { hidden: dense(16, 64), features: dense(64, 64 * 49), up1: upsample(64, 32), up2: upsample(32, 1) };
      const gan = { classes: normal([10, 16], 1), project: dense(80, 64 * 49), up1: upsample(64, 32), up2: upsample(32, 1) };
      // Kiln's [batch, 64·7·7] features are NCHW; tfjs convolves NHWC.
      const featureMap = (x, batch) => tf.transpose(tf.reshape(x, [batch, 64, 7, 7]), [0, 2, 3, 1]);
      const networks = {
        vae: (batch, form) => {
          const z = tf.randomNormal([batch, 16]);
          const x = featureMap(tf.relu(apply(vae.features, tf.relu(apply(vae.hidden, z)))), batch);
          return tf.sigmoid(vae.up2.forward(tf.relu(vae.up1.forward(x, form)), form));
        },
        gan: (batch, form) => {
          const z = tf.randomNormal([batch, 64]);
          const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32");
          const input = tf.concat([z, tf.gather(gan.classes, labels)], 1);
          let x = featureMap(apply(gan.project, input), batch);
          x = tf.relu(gan.up1.forward(tf.relu(groupNorm(x, 8)), form));
          return tf.sigmoid(gan.up2.forward(tf.relu(groupNorm(x, 8)), form));
        },
      };
      const models = { vae: await kiln.model("vae"), gan: await kiln.model("gan") };
      const calls = {
        kiln: (network, batch) => models[network].sample({ count: batch, seed: 1 }),
        deconv: async (network, batch) => {
          const out = tf.tidy(() => networks[network](batch, "deconv"));
          await out.data();
          out.dispose();
        },
        depthToSpace: async (network, batch) => {
          const out = tf.tidy(() => networks[network](batch, "conv"));
          await out.data();
          out.dispose();
        },
      };
      // Each round runs each way as a block: an untimed call, then `timedPerRound` timed ones.
      // The untimed call takes over the cores from the way before, whose pool threads spin for
      // a while after their last call (tfjs's pthreads longer than Rayon's): timed right after
      // the other library, a threaded call measured that library's spinning as much as itself.
      const times = {}; // "network batch way" → ms of each timed call
      for (let round = 0; round <= runs; round++) {
        for (const network of Object.keys(networks)) {
          for (const batch of batches) {
            for (const [way, call] of Object.entries(calls)) {
              await call(network, batch);
              for (let i = 0; round > 0 && i < timedPerRound; i++) {
                const start = performance.now();
                await call(network, batch);
                (times[`${network} ${batch} ${way}`] ??= []).push(performance.now() - start);
              }
            }
          }
        }
      }
      const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
      return Object.keys(networks).flatMap((network) =>
        batches.map((batch) => {
          const row = { network, batch, threads: kiln.startup.threads, tfjsBackend: tf.getBackend(), tfjsThreads: tf.wasm.getThreadsCount() };
          for (const way of Object.keys(calls)) row[way] = median(times[`${network} ${batch} ${way}`]);
          return row;
        }),
      );
    },
    { backend, batches, runs, timedPerRound },
  );
}
