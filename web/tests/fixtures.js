// Photo fixtures for the browser tests, made in memory: bad files of every kind, and
// small valid images the page must accept (CMYK JPEG, animated GIF, EXIF-rotated JPEG).

import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { repo, photoPath } from './harness.js';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const out = Buffer.alloc(4 + body.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 4 + body.length);
  return out;
}

/** A black greyscale PNG of `width` x `height` at `bitDepth` bits (1 keeps a huge one small). */
export function png(width, height, bitDepth = 8) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = bitDepth; // colour type 0 (grey), compression, filter, interlace: 0
  const row = 1 + Math.ceil((width * bitDepth) / 8); // filter byte + samples
  const pixels = deflateSync(Buffer.alloc(row * height), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An animated GIF: one 16x16 frame per colour index, palette red, blue, green, white.
 * LZW without compression: a clear code before every pixel keeps codes 3 bits wide. */
export function animatedGif(frames = [0, 1]) {
  const size = 16;
  const parts = [
    Buffer.from('GIF89a', 'ascii'),
    Buffer.from([size, 0, size, 0, 0b1000_0001, 0, 0]), // global table of 4 colours
    Buffer.from([255, 0, 0, 0, 0, 255, 0, 255, 0, 255, 255, 255]),
    Buffer.from([0x21, 0xff, 11, ...Buffer.from('NETSCAPE2.0'), 3, 1, 0, 0, 0]), // loop forever
  ];
  for (const colour of frames) {
    let bits = 0; let nbits = 0; const data = [];
    const emit = (code) => {
      bits |= code << nbits; nbits += 3;
      while (nbits >= 8) { data.push(bits & 0xff); bits >>= 8; nbits -= 8; }
    };
    for (let i = 0; i < size * size; i++) { emit(4); emit(colour); }
    emit(5);
    if (nbits) data.push(bits & 0xff);
    const blocks = [];
    for (let i = 0; i < data.length; i += 255) {
      const block = data.slice(i, i + 255);
      blocks.push(block.length, ...block);
    }
    parts.push(
      Buffer.from([0x21, 0xf9, 4, 0, 50, 0, 0, 0]), // 0.5 s per frame
      Buffer.from([0x2c, 0, 0, 0, 0, size, 0, size, 0, 0]),
      Buffer.from([2, ...blocks, 0]),
    );
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

const testdata = (name) => readFileSync(join(repo, 'crates/woofcam/src/image/testdata', name));

/** Files the page must refuse, each with a piece of the message it must show. */
export function badFiles() {
  const real = readFileSync(photoPath);
  return [
    { name: 'notes.jpg', buffer: Buffer.from('these are my notes, not a photo'), message: 'not an image the decoder knows' },
    { name: 'half.jpg', buffer: real.subarray(0, real.length >> 1), message: 'damaged or cut short' },
    { name: 'empty.jpg', buffer: Buffer.alloc(0), message: 'the file is empty' },
    { name: 'dot.png', buffer: png(1, 1), message: 'the image is 1x1 pixels' },
    { name: 'huge.png', buffer: png(12000, 12000, 1), message: '12000x12000 (144 megapixels); the limit is 50 megapixels' },
  ];
}

/** Unusual files the page must accept. `pixel` is the colour at the view's top-left
 * quarter; the 24x16 test images are red | green over blue | white. */
export function oddFiles() {
  return [
    { name: 'cmyk.jpg', buffer: testdata('cmyk.jpg'), view: [24, 16], pixel: [255, 0, 0] },
    { name: 'animated.gif', buffer: animatedGif([0, 1]), view: [16, 16], pixel: [255, 0, 0] },
    // Stored 24x16 with EXIF orientation 6 (rotate 90° clockwise): shown 16x24.
    { name: 'rotated.jpg', buffer: testdata('orient6.jpg'), view: [16, 24], pixel: [0, 0, 255] },
  ];
}
