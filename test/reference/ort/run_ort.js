#!/usr/bin/env node
// Runs the com.microsoft.MoE model of each case directory through ONNX
// Runtime (onnxruntime-node, CPU, one intra-op thread) and writes the output
// as CASEDIR/ort_out.npy (float32).
//
//   MOEC_ORT_NODE_MODULES=/path/to/node_modules node run_ort.js CASEDIR...
//
// Each CASEDIR holds model.onnx, input.npy and router_probs.npy (float32,
// little-endian, C order; written by make_cases.py). Any failure is fatal:
// the message names the case and the exit status is 1.
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write('run_ort.js: error: ' + msg + '\n');
  process.exit(1);
}

function loadOrt() {
  const dir = process.env.MOEC_ORT_NODE_MODULES;
  if (!dir) die('MOEC_ORT_NODE_MODULES is not set');
  try {
    return require(path.join(dir, 'onnxruntime-node'));
  } catch (e) {
    die('cannot load onnxruntime-node from ' + dir + ': ' + e.message);
  }
}

// Minimal .npy reader: float32 ('<f4'), C order, versions 1-3.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new Error(file + ': not an .npy file');
  const major = buf[6];
  let headerLen, offset;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else {
    headerLen = buf.readUInt32LE(8);
    offset = 12;
  }
  const header = buf.toString('latin1', offset, offset + headerLen);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const order = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shape)
    throw new Error(file + ': cannot parse header ' + header);
  if (descr[1] !== '<f4')
    throw new Error(file + ': dtype ' + descr[1] + ', expected <f4');
  if (order[1] !== 'False') throw new Error(file + ': Fortran order');
  const dims = shape[1].split(',').map(s => s.trim()).filter(s => s.length)
                   .map(s => parseInt(s, 10));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  if (buf.length - start !== 4 * count)
    throw new Error(file + ': expected ' + count + ' float32 values, found ' +
                    (buf.length - start) + ' bytes');
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = buf.readFloatLE(start + 4 * i);
  return {dims, data};
}

// .npy writer, version 1.0, '<f4', C order.
function writeNpy(file, dims, data) {
  const shape = dims.length === 1 ? '(' + dims[0] + ',)'
                                  : '(' + dims.join(', ') + ')';
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape +
               ', }';
  // Pad with spaces so that 10 + len(header) + 1 ('\n') is a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  const out = Buffer.alloc(total + 4 * data.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; ++i)
    out.writeFloatLE(data[i], total + 4 * i);
  fs.writeFileSync(file, out);
}

async function runCase(ort, dir) {
  const name = path.basename(path.resolve(dir));
  try {
    const x = readNpy(path.join(dir, 'input.npy'));
    const l = readNpy(path.join(dir, 'router_probs.npy'));
    const session = await ort.InferenceSession.create(
        path.join(dir, 'model.onnx'), {
          executionProviders: ['cpu'],
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
          executionMode: 'sequential',
        });
    const feeds = {
      input: new ort.Tensor('float32', x.data, x.dims),
      router_probs: new ort.Tensor('float32', l.data, l.dims),
    };
    const results = await session.run(feeds);
    const out = results[session.outputNames[0]];
    if (!out) throw new Error('no output');
    if (out.type !== 'float32')
      throw new Error('output type ' + out.type + ', expected float32');
    if (out.dims.join(',') !== x.dims.join(','))
      throw new Error('output shape [' + out.dims + '] differs from input [' +
                      x.dims + ']');
    writeNpy(path.join(dir, 'ort_out.npy'), out.dims, out.data);
    if (session.release) await session.release();
  } catch (e) {
    let desc = '';
    try {
      desc = fs.readFileSync(path.join(dir, 'case.txt'), 'utf8').trim();
    } catch (_) {
    }
    die('ONNX Runtime failed on ' + name + (desc ? ' (' + desc + ')' : '') +
        ': ' + (e && e.message ? e.message : e));
  }
}

async function main() {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) die('usage: node run_ort.js CASEDIR...');
  const ort = loadOrt();
  let version = '?';
  try {
    version = require(path.join(process.env.MOEC_ORT_NODE_MODULES,
                                'onnxruntime-node', 'package.json')).version;
  } catch (_) {
  }
  for (const dir of dirs) await runCase(ort, dir);
  process.stdout.write('onnxruntime-node ' + version + ': ran ' + dirs.length +
                       ' cases\n');
}

main().catch(e => die(String(e && e.stack ? e.stack : e)));
