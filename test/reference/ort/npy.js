// Minimal .npy reading and writing for the ONNX Runtime harnesses:
// readNpy reads '<f4' (Float32Array) and '<f2' (Uint16Array of the bits),
// C order, versions 1-3; writeNpy writes '<f4', version 1.0.
'use strict';

const fs = require('fs');

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new Error(file + ': not an .npy file');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const offset = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', offset, offset + headerLen);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const order = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shape)
    throw new Error(file + ': cannot parse header ' + header);
  if (order[1] !== 'False') throw new Error(file + ': Fortran order');
  const dims = shape[1].split(',').map(s => s.trim()).filter(s => s.length)
                   .map(s => parseInt(s, 10));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  const size = descr[1] === '<f4' ? 4 : descr[1] === '<f2' ? 2 : 0;
  if (!size) throw new Error(file + ': unsupported dtype ' + descr[1]);
  if (buf.length - start !== size * count)
    throw new Error(file + ': expected ' + count + ' values, found ' +
                    (buf.length - start) + ' bytes');
  const data = size === 4 ? new Float32Array(count) : new Uint16Array(count);
  for (let i = 0; i < count; ++i)
    data[i] = size === 4 ? buf.readFloatLE(start + 4 * i)
                         : buf.readUInt16LE(start + 2 * i);
  return {dims, data, descr: descr[1]};
}

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

module.exports = {readNpy, writeNpy};
