// Renders www/icon.svg to the PNG icons the web manifest lists (some systems install a
// web app only with PNG icons of 192 and 512 px): `npm run icons`, then commit the PNGs.
// Drawn by Debian's Chromium, the same browser the tests use, with a transparent
// background outside the icon's rounded square.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { repo } from './tests/harness.js';

const www = join(repo, 'www');
const svg = readFileSync(join(www, 'icon.svg')).toString('base64');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  for (const size of [192, 512]) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    await page.setContent(`<style>html, body { margin: 0; background: transparent; }</style>
      <img src="data:image/svg+xml;base64,${svg}" width="${size}" height="${size}" style="display: block">`);
    await page.waitForFunction(() => document.querySelector('img').complete);
    const out = join(www, `icon-${size}.png`);
    await page.screenshot({ path: out, omitBackground: true });
    console.log(`wrote ${out}`);
    await page.close();
  }
} finally {
  await browser.close();
}
