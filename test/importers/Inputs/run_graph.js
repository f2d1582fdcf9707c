#!/usr/bin/env node
// Runs CASEDIR/model.onnx through ONNX Runtime (onnxruntime-node, CPU, one
// intra-op thread) on the feeds of CASEDIR/feeds.json
//   [{"name": "...", "file": "x.npy", "type": "float32" | "float16"}]
// (.npy files: '<f4', or '<f2' for float16) and writes the first output as
// CASEDIR/ort_out.npy ('<f4'; float16 outputs are widened exactly).
//
//   MOEC_ORT_NODE_MODULES=/path/to/node_modules node run_graph.js CASEDIR...
'use strict';

const fs = require('fs');
const path = require('path');
const {readNpy, writeNpy} =
    require(path.join(__dirname, '..', '..', 'reference', 'ort', 'npy.js'));

function die(msg) {
  process.stderr.write('run_graph.js: error: ' + msg + '\n');
  process.exit(1);
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * Math.pow(2, -24);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * Math.pow(2, e - 15);
}

async function runCase(ort, dir) {
  try {
    const feedsSpec = JSON.parse(fs.readFileSync(path.join(dir, 'feeds.json')));
    const session = await ort.InferenceSession.create(
        path.join(dir, 'model.onnx'),
        {executionProviders: ['cpu'], intraOpNumThreads: 1,
         interOpNumThreads: 1, executionMode: 'sequential'});
    const feeds = {};
    for (const f of feedsSpec) {
      const a = readNpy(path.join(dir, f.file));
      feeds[f.name] = new ort.Tensor(f.type, a.data, a.dims);
    }
    const results = await session.run(feeds);
    const out = results[session.outputNames[0]];
    let data = out.data;
    if (out.type === 'float16') data = Float32Array.from(data, halfToFloat);
    writeNpy(path.join(dir, 'ort_out.npy'), out.dims, data);
    if (session.release) await session.release();
  } catch (e) {
    die('ONNX Runtime failed on ' + dir + ': ' + (e && e.message ? e.message : e));
  }
}

async function main() {
  const dirs = process.argv.slice(2);
  if (!dirs.length) die('usage: node run_graph.js CASEDIR...');
  const dir = process.env.MOEC_ORT_NODE_MODULES;
  if (!dir) die('MOEC_ORT_NODE_MODULES is not set');
  const ort = require(path.join(dir, 'onnxruntime-node'));
  for (const d of dirs) await runCase(ort, d);
  process.stdout.write('ran ' + dirs.length + ' models\n');
}

main().catch(e => die(String(e && e.stack ? e.stack : e)));
