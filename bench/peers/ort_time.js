#!/usr/bin/env node
// Times ONNX Runtime's com.microsoft.MoE (onnxruntime-node, CPU) on one
// model of make_ort_models.py, as moe-bench times moec: 16 random inputs
// rotated between calls, 3 warm-up calls, then at least 5 calls and
// MIN_TIME seconds. Prints CSV rows "ort,SHAPE,f32,T,median,min,max".
//
//   MOEC_ORT_NODE_MODULES=... node ort_time.js MODEL_DIR SHAPE THREADS \
//       TOKENS(1,8,...) MIN_TIME D E
'use strict';
const path = require('path');

async function main() {
  const [dir, shape, threads, tokens, minTime, d, E] = process.argv.slice(2);
  const ort = require(path.join(process.env.MOEC_ORT_NODE_MODULES,
                                'onnxruntime-node'));
  const session = await ort.InferenceSession.create(
      path.join(dir, 'model.onnx'),
      {executionProviders: ['cpu'], intraOpNumThreads: parseInt(threads),
       interOpNumThreads: 1, executionMode: 'sequential'});
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 * 2 - 1;
  };
  for (const tStr of tokens.split(',')) {
    const T = parseInt(tStr);
    const pool = [];
    for (let p = 0; p < 16; ++p) {
      const x = Float32Array.from({length: T * d}, () => rand() * 1.7);
      const l = Float32Array.from({length: T * E}, () => rand() * 3);
      pool.push({input: new ort.Tensor('float32', x, [T, parseInt(d)]),
                 router_probs: new ort.Tensor('float32', l, [T, parseInt(E)])});
    }
    const ms = [];
    let elapsed = 0;
    for (let it = 0; it < 3 + 16 * 64; ++it) {
      const t0 = process.hrtime.bigint();
      await session.run(pool[it % 16]);
      const t = Number(process.hrtime.bigint() - t0) / 1e6;
      if (it >= 3) {
        ms.push(t);
        elapsed += t / 1000;
      }
      if (ms.length >= 5 && elapsed >= parseFloat(minTime)) break;
    }
    ms.sort((a, b) => a - b);
    console.log(['ort', shape, 'f32', T, ms[Math.floor(ms.length / 2)].toFixed(4),
                 ms[0].toFixed(4), ms[ms.length - 1].toFixed(4)].join(','));
  }
}
main().catch(e => {
  process.stderr.write('ort_time.js: error: ' + (e.stack || e) + '\n');
  process.exit(1);
});
