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

const {readNpy: readAnyNpy, writeNpy} = require('./npy.js');

// The harness feeds float32 only.
function readNpy(file) {
  const a = readAnyNpy(file);
  if (a.descr !== '<f4')
    throw new Error(file + ': dtype ' + a.descr + ', expected <f4');
  return a;
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
