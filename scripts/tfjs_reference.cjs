// Runs TFJS graph models with the original runtime (@tensorflow/tfjs, pure-JS CPU backend) on
// inputs written by scripts/tfjs_parity.py, and prints their outputs as JSON on stdout.
// Also re-does human's preprocessing (cutAndResize, resizeBilinear, ...) with tf ops, so the
// Python re-implementation can be compared with it.
//   node scripts/tfjs_reference.cjs JOB.json      (NODE_PATH must hold @tensorflow/tfjs)
// JOB.json: {"models": {NAME: {"json": PATH, "outputs": [TENSOR, ...]}},
//            "faces": [{"image": RAW_RGB_PATH, "height": H, "width": W, "cut": [y1, x1, y2, x2],
//                       "inputs": {NAME: {"path": RAW_F32_PATH, "shape": [...]}}}]}
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function readF32(p) {
  const b = fs.readFileSync(p);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

async function load(jsonPath) {
  const doc = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const specs = [];
  const bufs = [];
  for (const g of doc.weightsManifest) {
    for (const w of g.weights) specs.push(w);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(path.dirname(jsonPath), p)));
  }
  const all = Buffer.concat(bufs);
  const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: doc.modelTopology, weightSpecs: specs, weightData: data, format: doc.format, generatedBy: doc.generatedBy, convertedBy: doc.convertedBy, signature: doc.signature, userDefinedMetadata: doc.userDefinedMetadata }));
}

const rgb = tf.tensor1d([0.2989, 0.5870, 0.1140], 'float32');
const prep = {  // human 3.x, src/face/*.ts and src/gear/*.ts
  antispoof: (t) => tf.image.resizeBilinear(t, [128, 128], false),
  liveness: (t) => tf.image.resizeBilinear(t, [32, 32], false),
  age: (t) => tf.mul(tf.image.resizeBilinear(t, [64, 64], false), 255),
  'gender-ssrnet-imdb': (t) => tf.mul(tf.sub(tf.image.resizeBilinear(t, [64, 64], false), 0.5), 2),
  gender: (t) => tf.mul(tf.sub(tf.sum(tf.mul(tf.image.resizeBilinear(t, [64, 64], false), rgb), 3, true), 0.5), 2),
  emotion: (t) => tf.mul(tf.sub(tf.sum(tf.mul(tf.image.resizeBilinear(t, [64, 64], false), rgb), 3, true), 0.5), 2),
  gear: (t) => tf.image.cropAndResize(t, [[0.0, 0.10, 0.90, 0.90]], [0], [198, 198]),
  faceres: (t) => tf.mul(tf.image.resizeBilinear(t, [224, 224], false), 255),
  'faceres-deep': (t) => tf.mul(tf.image.resizeBilinear(t, [224, 224], false), 255),
};

async function main() {
  await tf.setBackend('cpu');
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const models = {};
  for (const [name, m] of Object.entries(job.models)) models[name] = { model: await load(m.json), outputs: m.outputs };
  const faces = [];
  for (const f of job.faces) {
    const img = fs.readFileSync(f.image);
    const image = tf.tensor4d(Float32Array.from(img), [1, f.height, f.width, 3], 'float32');
    const faceT = tf.div(tf.image.cropAndResize(image, [f.cut], [0], [192, 192]), 255);
    const res = { outputs: {}, input_max_abs_diff: {} };
    for (const [name, inp] of Object.entries(f.inputs)) {
      const x = tf.tensor(readF32(inp.path), inp.shape, 'float32');
      if (prep[name]) {
        const mine = prep[name](faceT);
        res.input_max_abs_diff[name] = (await tf.max(tf.abs(tf.sub(mine, x))).data())[0];
      }
      const m = models[name];
      let outs = m.model.execute(x, m.outputs);
      if (!Array.isArray(outs)) outs = [outs];
      res.outputs[name] = await Promise.all(outs.map(async (o) => Array.from(await o.data())));
    }
    faces.push(res);
  }
  process.stdout.write(JSON.stringify({ tfjs: tf.version.tfjs, backend: tf.getBackend(), faces }));
}
main().catch((e) => { console.error(e); process.exit(1); });
