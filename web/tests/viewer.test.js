// The viewer in headless Chromium on the CPU backend: a real photo end to end, agreement
// with the native tool, bad and odd files, every control, privacy and offline use.
// Screenshots land in target/e2e/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canvasPixels, choose, colours, open, photoPath, reopenOffline, setControl, shots, site, start, woofcamBinary,
} from './harness.js';
import { badFiles, oddFiles } from './fixtures.js';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.close(); });

describe('one page on the CPU backend', () => {
  let page;
  before(async () => { ({ page } = await open(env.browser, env.url)); });

  test('classifies a real photo: top-5 and a non-blank Grad-CAM overlay', async () => {
    const backend = await page.textContent('#backend');
    assert.match(backend, /CPU/);
    const { report, message } = await choose(page, photoPath);
    assert.equal(message, undefined);
    assert.equal(report.top.length, 5);
    assert.equal(await page.locator('#top li').count(), 5);
    const total = report.top.reduce((sum, p) => sum + p.probability, 0);
    assert.ok(total > 0 && total <= 1 + 1e-5, `probabilities sum to ${total}`);
    const overlay = await canvasPixels(page, 'gradcam');
    assert.ok(colours(overlay) > 1000, `the overlay has only ${colours(overlay)} colours`);
    assert.match(await page.textContent('#timings'), /analysis first \d+ ms/);
    await page.screenshot({ path: join(shots, 'cpu-gradcam.png'), fullPage: true });
  });

  test('logits and Grad-CAM equal the native `woofcam explain` on the same photo', async () => {
    await setControl(page, 'layer', 'layer3');
    await setControl(page, 'class', 8);
    const browser = await page.evaluate(() => window.woofcam.report);
    assert.equal(browser.class, 8);
    assert.equal(browser.layer, 'layer3');

    const dir = mkdtempSync(join(tmpdir(), 'woofcam-'));
    execFileSync(woofcamBinary(), [
      'explain', photoPath, '--weights', join(site, 'model/model.bpk'), '--layer', 'layer3', '--class', '8',
      '--method', 'gradcam', '--out', dir, '--json', join(dir, 'native.json'),
    ], { stdio: 'pipe' });
    const native = JSON.parse(readFileSync(join(dir, 'native.json'), 'utf8'));

    assert.equal(browser.logits.length, native.logits.length);
    const scale = Math.max(...native.logits.map(Math.abs), 1);
    browser.logits.forEach((l, i) => assert.ok(Math.abs(l - native.logits[i]) <= 1e-3 * scale,
      `logit ${i}: browser ${l}, native ${native.logits[i]}`));
    const [b, n] = [browser.gradcamRaw, native.gradcamRaw];
    assert.deepEqual([b.height, b.width], [n.height, n.width]);
    const peak = Math.max(...n.values.map(Math.abs));
    assert.ok(peak > 0, 'the native map is all zeros');
    b.values.forEach((v, i) => assert.ok(Math.abs(v - n.values[i]) <= 1e-3 * peak,
      `map value ${i}: browser ${v}, native ${n.values[i]} (peak ${peak})`));

    await setControl(page, 'layer', 'layer4');
    await setControl(page, 'class', '');
  });

  test('a Grad-CAM with no positive evidence says so instead of showing a bare blank map', async () => {
    const notes = () => page.$$eval('.panel', (ps) => Object.fromEntries(ps.map((p) => {
      const note = p.querySelector('.note');
      return [p.dataset.method, note.hidden ? null : note.textContent];
    })));
    // Which (layer, class) pairs have no positive evidence depends on the weights, so the
    // test walks the stages and classes, Grad-CAM alone (cheaper), until it has seen both
    // kinds of map; then it looks at each with all three methods.
    const seen = {};
    await setControl(page, 'method', 'gradcam');
    for (const layer of ['layer4', 'layer3', 'layer2', 'layer1']) {
      if (seen.blank && seen.evidence) break;
      await setControl(page, 'layer', layer);
      for (let c = 0; c < 10 && !(seen.blank && seen.evidence); c++) {
        await setControl(page, 'class', c);
        const report = await page.evaluate(() => window.woofcam.report);
        const shown = await notes();
        if (report.gradcamRaw.values.some((v) => v > 0)) {
          seen.evidence ??= { layer, c };
          assert.equal(shown.gradcam, null, `${layer}, class ${c}: a map with evidence has no note`);
        } else {
          seen.blank ??= { layer, c };
          assert.ok(shown.gradcam?.startsWith(
            `Grad-CAM is zero everywhere: at ${layer}, no region raises the score of ${report.className}`), shown.gradcam);
        }
      }
    }
    assert.ok(seen.blank && seen.evidence, `no ${seen.blank ? 'map with evidence' : 'blank map'} on this photo: it needs replacing for this model`);
    await setControl(page, 'method', 'all');
    for (const [kind, { layer, c }] of [['blank', seen.blank], ['evidence', seen.evidence]]) {
      await setControl(page, 'layer', layer);
      await setControl(page, 'class', c);
      const shown = await notes();
      assert.equal(shown['guided-backprop'], null, 'Guided Backprop does not depend on Grad-CAM');
      if (kind === 'evidence') {
        assert.equal(shown['guided-gradcam'], null, `${layer}, class ${c}`);
      } else {
        assert.ok(shown.gradcam?.startsWith('Grad-CAM is zero everywhere'), shown.gradcam);
        assert.equal(shown['guided-gradcam'], shown.gradcam);
        await page.screenshot({ path: join(shots, 'cpu-blank-gradcam.png'), fullPage: true });
      }
    }
    await setControl(page, 'layer', 'layer4');
    await setControl(page, 'class', '');
    await setControl(page, 'method', 'gradcam');
  });

  test('every control changes what it should', async () => {
    const shown = async () => page.$$eval('.panel', (ps) => ps.map((p) => [p.dataset.method, p.querySelectorAll('canvas').length]));
    const pixels = async () => (await canvasPixels(page, 'gradcam')).data;

    let before = await pixels();
    await setControl(page, 'cmap', 'jet');
    assert.notDeepEqual(await pixels(), before, 'colour map');

    before = await pixels();
    await setControl(page, 'alpha', 0.2);
    assert.equal(await page.textContent('#alpha-value'), '0.20');
    assert.notDeepEqual(await pixels(), before, 'opacity');

    before = await pixels();
    await setControl(page, 'upsampling', 'smooth');
    assert.notDeepEqual(await pixels(), before, 'upsampling');

    await setControl(page, 'layout', 'side');
    assert.deepEqual(await shown(), [['gradcam', 3]]);
    const [photo, map] = [await canvasPixels(page, 'gradcam', 0), await canvasPixels(page, 'gradcam', 1)];
    assert.notDeepEqual(photo.data, map.data, 'photo and map panels differ');

    await setControl(page, 'method', 'all');
    assert.deepEqual(await shown(), [['gradcam', 3], ['guided-backprop', 3], ['guided-gradcam', 3]]);
    // A blank or constant map has a handful of colours. A real one has far more, how many
    // depending on the weights; Guided Grad-CAM fewer than Guided Backprop, being zero wherever
    // Grad-CAM is.
    for (const [method, least] of [['guided-backprop', 1000], ['guided-gradcam', 100]]) {
      const image = await canvasPixels(page, method, 1);
      assert.ok(colours(image) > least, `${method} has only ${colours(image)} colours`);
    }
    assert.match(await page.textContent('.panel[data-method="guided-backprop"] .about'), /Adebayo et al\. 2018/);
    await page.screenshot({ path: join(shots, 'cpu-all-side-by-side.png'), fullPage: true });

    await setControl(page, 'method', 'guided-backprop');
    await setControl(page, 'layout', 'merged');
    assert.deepEqual(await shown(), [['guided-backprop', 1]]);

    await setControl(page, 'method', 'gradcam');
    const subject = () => page.textContent('.panel .subject');
    await setControl(page, 'layer', 'layer2');
    assert.match(await subject(), /at layer2$/);
    const report = await page.evaluate(() => window.woofcam.report);
    // layer2's output is an eighth of the model's input size (28 x 28 at 224 px).
    const [side] = await page.evaluate(() => window.woofcam.info.inputSize);
    const [, height, width] = await page.evaluate(() => window.woofcam.info.layers.find((l) => l.name === 'layer2').shape);
    assert.deepEqual([height, width], [side / 8, side / 8]);
    assert.deepEqual([report.gradcamRaw.height, report.gradcamRaw.width], [height, width]);
    await setControl(page, 'class', 3);
    const { class: explained, className } = await page.evaluate(() => window.woofcam.report);
    assert.equal(explained, 3);
    assert.equal(className, await page.evaluate(() => window.woofcam.info.classNames[3]));
    assert.equal(await subject(), `for ${className} at layer2`);

    // Hover reads the map under the pointer.
    const canvas = page.locator('.panel canvas').first();
    const box = await canvas.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    assert.match(await page.textContent('.panel .hover'), /^Map value [01]\.\d{3} at \(\d+, \d+\)$/);
  });

  test('downloads the overlay PNG and the raw map as JSON and .npy', async () => {
    const fetchDownload = async (kind) => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`.panel button[data-download="${kind}"]`)]);
      return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
    };
    const png = await fetchDownload('png');
    assert.equal(png.name, 'ILSVRC2012_val_00000590.gradcam.overlay.png');
    assert.deepEqual([...png.bytes.subarray(1, 4)], [...Buffer.from('PNG')]);
    const json = await fetchDownload('json');
    const raw = JSON.parse(json.bytes.toString());
    const [, height, width] = await page.evaluate(() => window.woofcam.info.layers.find((l) => l.name === 'layer2').shape);
    assert.deepEqual(raw.shape, [height, width]);
    assert.equal(raw.values.length, height * width);
    assert.equal(raw.layer, 'layer2');
    const npy = await fetchDownload('npy');
    assert.equal(npy.name, 'ILSVRC2012_val_00000590.gradcam.npy');
    assert.equal(npy.bytes.subarray(1, 6).toString(), 'NUMPY');
    const headerLength = npy.bytes.readUInt16LE(8);
    assert.ok(npy.bytes.subarray(10, 10 + headerLength).toString().includes(`'shape': (${height}, ${width})`));
    assert.equal(npy.bytes.readFloatLE(10 + headerLength), Math.fround(raw.values[0]));
  });

  test('bad files give a clear message and the page stays usable', async () => {
    for (const file of badFiles()) {
      const { message } = await choose(page, { name: file.name, mimeType: 'image/jpeg', buffer: file.buffer });
      assert.ok(message?.includes(file.message), `${file.name}: ${message}`);
      assert.ok(message.startsWith(file.name), `${file.name}: ${message}`);
      if (file.name === 'huge.png') await page.screenshot({ path: join(shots, 'cpu-bad-file.png'), fullPage: true });
    }
    const { report } = await choose(page, photoPath);
    assert.equal(report.top.length, 5);
    assert.ok(await page.locator('#message').isHidden());
  });

  test('CMYK JPEG, animated GIF and EXIF-rotated JPEG are read right side up', async () => {
    await setControl(page, 'alpha', 0);
    for (const file of oddFiles()) {
      const { report, message } = await choose(page, { name: file.name, mimeType: 'image/jpeg', buffer: file.buffer });
      assert.equal(message, undefined, `${file.name}: ${message}`);
      assert.equal(report.top.length, 5);
      const view = await canvasPixels(page, 'gradcam');
      assert.deepEqual([view.width, view.height], file.view, file.name);
      const at = 4 * (Math.floor(view.height / 4) * view.width + Math.floor(view.width / 4));
      const pixel = view.data.slice(at, at + 3);
      assert.ok(pixel.every((v, i) => Math.abs(v - file.pixel[i]) <= 16), `${file.name}: top-left is ${pixel}`);
    }
    await setControl(page, 'alpha', 0.6);
  });

  test('classifying makes no network request at all', async () => {
    const requests = [];
    const record = (r) => requests.push(r.url());
    page.context().on('request', record);
    await choose(page, photoPath);
    await setControl(page, 'method', 'all');
    page.context().off('request', record);
    assert.deepEqual(requests, []);
  });
});

test('works offline after the first visit', async () => {
  const { page, context } = await open(env.browser, env.url);
  await reopenOffline(page, context);
  const { report } = await choose(page, photoPath);
  assert.equal(report.top.length, 5);
  await page.screenshot({ path: join(shots, 'cpu-offline.png'), fullPage: true });
  await context.close();
});

test('a truncated weights file gives a clear error', async () => {
  // No service worker, so that the page's own request meets the truncated file.
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const weights = readFileSync(join(site, 'model/model.bpk'));
  await context.route('**/model/model.bpk', (route) => route.fulfill({
    body: weights.subarray(0, weights.length >> 1), contentType: 'application/octet-stream',
  }));
  const page = await context.newPage();
  await page.goto(`${env.url}?backend=cpu`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'error');
  assert.match(await page.textContent('#progress-label'), /^Cannot start: cannot load the weights: /);
  await page.screenshot({ path: join(shots, 'truncated-weights.png') });
  await context.close();
});
