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

function die(msg) {
  process.stderr.write('run_graph.js: error: ' + msg + '\n');
  process.exit(1);
}

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new Error(file + ': not an .npy file');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const offset = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', offset, offset + headerLen);
  const descr = /'descr':\s*'([^']*)'/.exec(header)[1];
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',')
                   .map(s => s.trim()).filter(s => s.length)
                   .map(s => parseInt(s, 10));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  if (descr === '<f4') {
    const data = new Float32Array(count);
    for (let i = 0; i < count; ++i) data[i] = buf.readFloatLE(start + 4 * i);
    return {dims, data};
  }
  if (descr === '<f2') {
    const data = new Uint16Array(count);
    for (let i = 0; i < count; ++i) data[i] = buf.readUInt16LE(start + 2 * i);
    return {dims, data};
  }
  throw new Error(file + ': unsupported dtype ' + descr);
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * Math.pow(2, -24);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * Math.pow(2, e - 15);
}

function writeNpy(file, dims, data) {
  const shape = dims.length === 1 ? '(' + dims[0] + ',)'
                                  : '(' + dims.join(', ') + ')';
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape +
               ', }';
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  const out = Buffer.alloc(total + 4 * data.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; ++i)
    out.writeFloatLE(data[i], total + 4 * i);
  fs.writeFileSync(file, out);
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
