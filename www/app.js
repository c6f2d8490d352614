// Woofcam's page: loads the model with a progress bar, hands photos to the viewer in a
// Web Worker (worker.js), and puts the pictures it draws on canvases. Every number and
// pixel comes from the Rust viewer; this file only wires controls to it.

import { Viewer } from './viewer-client.js';
import { cameraMessage, captureFrame, openCamera, showCamera, stopCamera, stopStream } from './camera.js';

const MODEL = { weights: 'model/model.bpk', metadata: 'model/model.json' };
/** The sample gallery's list (the service worker stores every photo it names). */
const SAMPLES = 'samples/samples.json';

const METHOD_TITLES = {
  'gradcam': 'Grad-CAM',
  'guided-backprop': 'Guided Backprop',
  'guided-gradcam': 'Guided Grad-CAM',
};

const ABOUT = {
  'gradcam': 'Grad-CAM weighs the chosen layer\'s feature maps by how much each raises the class score, ' +
    'so bright regions hold the evidence for that class. It is coarse (the layer\'s own grid: the Layer menu ' +
    'gives each layer\'s size) but class-specific: pick another class to see where its evidence lies.',
  'guided-backprop': 'Guided Backprop shows which pixel edges the class score is most sensitive to, passing only ' +
    'positive gradients back through every ReLU. Beware: it looks almost the same for a network with random ' +
    'weights (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"), so it shows what the network can see, ' +
    'not what it decided.',
  'guided-gradcam': 'Guided Grad-CAM multiplies Guided Backprop\'s fine edges by the Grad-CAM map, keeping detail ' +
    'only where Grad-CAM finds evidence for the class. It is sharp and class-specific, but at the pixel level ' +
    'it inherits Guided Backprop\'s caveat.',
};

const $ = (id) => document.getElementById(id);
const controls = ['method', 'class', 'layer', 'cmap', 'alpha', 'upsampling', 'layout'];

const state = {
  viewer: null,
  info: null,
  photo: null,          // {width, height, viewWidth, viewHeight, name, label}
  report: null,         // the last analysis
  computed: new Set(),  // methods the last analysis covers
  strengths: new Map(), // method -> Float32Array of map values at the view size
  timings: { firstAnalysis: null, lastAnalysis: null },
  // Counters the browser tests wait on (photos tried, analyses and drawings finished).
  attempts: 0,
  analyses: 0,
  draws: 0,
};
// A handle for the browser tests and for the curious, in the developer console.
window.woofcam = state;

/** Registers the service worker (offline use after the first visit) and waits until it
 * controls the page, so that the model download below is cached as it streams. */
async function serviceWorker() {
  if (!('serviceWorker' in navigator)) return;
  // Never wait long: without offline support the page still works.
  const timeout = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  try {
    await Promise.race([navigator.serviceWorker.register('sw.js').then(() => navigator.serviceWorker.ready), timeout(5000)]);
    if (!navigator.serviceWorker.controller) {
      const claimed = new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
      await Promise.race([claimed, timeout(3000)]);
    }
  } catch (err) {
    console.warn('no offline support:', err);
  }
}

/** Fetches `url` as bytes, reporting progress in [0, 1] (when the size is known). */
async function fetchWithProgress(url, onProgress) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot download ${url}: ${response.status} ${response.statusText}`);
  const total = Number(response.headers.get('Content-Length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    if (total) onProgress(received / total);
  }
  if (total && received !== total) {
    throw new Error(`the download of ${url} stopped after ${received} of ${total} bytes`);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function loadModel(backend) {
  const progress = $('progress');
  const label = $('progress-label');
  const started = performance.now();
  const response = await fetch(MODEL.metadata);
  if (!response.ok) throw new Error(`cannot download ${MODEL.metadata}: ${response.status} ${response.statusText}`);
  const metadata = await response.text();
  const weights = await fetchWithProgress(MODEL.weights, (p) => {
    progress.value = p;
    label.textContent = `Loading the model… ${Math.round(100 * p)}%`;
  });
  const downloadMs = performance.now() - started;
  label.textContent = 'Starting the network…';
  const reload = () => fetchWithProgress(MODEL.weights, () => {});
  const viewer = await Viewer.start(weights, metadata, backend, reload);
  const { info, timings } = viewer.loaded;
  timings.downloadMs = downloadMs;
  return { viewer, info, timings };
}

function showBackend(info, timings) {
  const cpu = `CPU (wasm, ${info.threads} thread${info.threads === 1 ? '' : 's'})`;
  let text = `Backend: ${info.backend === 'webgpu' ? 'WebGPU' : cpu}`;
  if (info.fallback) text += ` — ${info.fallback}`;
  $('backend').textContent = text;
  $('backend').dataset.backend = info.backend;
  state.loadTimings = timings;
}

function fillSelect(select, options, selected) {
  select.replaceChildren(...options.map(([value, label]) => new Option(label, value, false, value === selected)));
}

function buildControls(info) {
  fillSelect($('class'), [['', 'the predicted class'], ...info.classNames.map((name, i) => [String(i), name])], '');
  fillSelect($('layer'), info.layers.map((l) => [l.name, `${l.name} (${l.shape.join('×')})`]), info.defaultLayer);
  fillSelect($('cmap'), info.colormaps.map((c) => [c, c]), info.colormaps[0]);
}

function showMessage(text) {
  const message = $('message');
  message.textContent = text;
  message.hidden = !text;
}

/** The methods the current "Method" control shows. */
function shownMethods() {
  const method = $('method').value;
  return method === 'all' ? state.info.methods : [method];
}

/** Analyses a photo: a picked, dropped or pasted file, a sample or a camera frame all come
 * here as a `File`. `sample` is the gallery's entry when the photo is one of its samples. */
async function usePhoto(file, sample = null) {
  showMessage('');
  $('drop').classList.add('busy');
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const photo = await state.viewer.call('setPhoto', [bytes], [bytes.buffer]);
    // Only now: a file the decoder refused leaves the previous photo (and its label) shown.
    const label = sample?.breed ?? null;
    state.photo = { ...photo, name: file.name || 'photo', label };
    state.report = null;
    $('truth').textContent = label ? `Imagewoof's label for this photo: ${label}` : '';
    $('truth').hidden = !label;
    for (const button of document.querySelectorAll('#sample-list .sample')) {
      button.setAttribute('aria-pressed', String(button.dataset.synset === sample?.synset));
    }
    await analyze();
  } catch (err) {
    showMessage(`${file.name || 'This file'}: ${err.message}. Try another photo.`);
  } finally {
    $('drop').classList.remove('busy');
    state.attempts++;
  }
}

/** Runs the network for what the controls ask; then draws. */
async function analyze() {
  const cls = $('class').value;
  const { result, ms } = await state.viewer.timed('analyze', [$('layer').value, cls === '' ? undefined : Number(cls), shownMethods()]);
  state.report = result;
  state.computed = new Set(shownMethods());
  state.timings.firstAnalysis ??= ms;
  state.timings.lastAnalysis = ms;
  state.analyses++;
  showTop(result);
  $('results').hidden = false;
  await draw();
}

function showTop(report) {
  $('top').replaceChildren(...report.top.map((p) => {
    const li = document.createElement('li');
    li.innerHTML = '<span class="name"></span><span class="bar"><span></span></span><span class="p"></span>';
    li.querySelector('.name').textContent = p.name;
    li.querySelector('.bar span').style.width = `${(100 * p.probability).toFixed(1)}%`;
    li.querySelector('.p').textContent = `${(100 * p.probability).toFixed(1)}%`;
    li.classList.toggle('explained', p.class === report.class);
    return li;
  }));
}

/** Draws every shown method with the current style, and fetches its hover values. */
async function draw() {
  const started = performance.now();
  const { viewWidth: width, viewHeight: height } = state.photo;
  const [cmap, upsampling, alpha, layout] = ['cmap', 'upsampling', 'alpha', 'layout'].map((id) => $(id).value);
  const panels = [];
  state.strengths.clear();
  for (const method of shownMethods()) {
    // Side by side: the photo (opacity 0), the map alone (1), then the overlay.
    const alphas = layout === 'side' ? [0, 1, Number(alpha)] : [Number(alpha)];
    const images = [];
    for (const a of alphas) images.push(await state.viewer.call('render', [method, cmap, upsampling, a]));
    state.strengths.set(method, await state.viewer.call('strength', [method, upsampling]));
    panels.push(panel(method, images, width, height));
  }
  $('panels').replaceChildren(...panels);
  $('panels').dataset.layout = layout;
  $('panels').dataset.count = String(panels.length);
  showTimings(performance.now() - started);
  state.draws++;
}

function panel(method, images, width, height) {
  const figure = document.importNode($('panel').content, true).firstElementChild;
  figure.dataset.method = method;
  figure.querySelector('.title').textContent = METHOD_TITLES[method];
  figure.querySelector('.subject').textContent = `for ${state.report.className}` +
    (method === 'guided-backprop' ? '' : ` at ${state.report.layer}`);
  figure.querySelector('.about').textContent = ABOUT[method];
  // A blank Grad-CAM is an answer (nothing at this layer speaks for the class), not a fault.
  const note = figure.querySelector('.note');
  note.textContent = method === 'guided-backprop' ? '' : (state.report.gradcamNote ?? '');
  note.hidden = !note.textContent;
  const canvases = images.map((image) => {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    canvas.getContext('2d').putImageData(image, 0, 0);
    canvas.addEventListener('mousemove', (e) => hover(figure, method, canvas, e));
    return canvas;
  });
  figure.querySelector('.canvases').replaceChildren(...canvases);
  figure.querySelector('.downloads').addEventListener('click', (e) => {
    const kind = e.target.dataset?.download;
    if (kind) download(method, kind, canvases.at(-1));
  });
  return figure;
}

function hover(figure, method, canvas, event) {
  const x = Math.min(canvas.width - 1, Math.floor(event.offsetX * canvas.width / canvas.clientWidth));
  const y = Math.min(canvas.height - 1, Math.floor(event.offsetY * canvas.height / canvas.clientHeight));
  const value = state.strengths.get(method)?.[y * canvas.width + x];
  if (value === undefined) return;
  figure.querySelector('.hover').textContent = `Map value ${value.toFixed(3)} at (${x}, ${y})`;
}

async function download(method, kind, canvas) {
  const base = `${state.photo.name.replace(/\.[^.]*$/, '')}.${method}`;
  let blob;
  if (kind === 'png') {
    blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  } else {
    const bytes = await state.viewer.call('export', [method, kind]);
    blob = new Blob([bytes], { type: kind === 'json' ? 'application/json' : 'application/octet-stream' });
  }
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `${base}.${kind === 'png' ? 'overlay.png' : kind}`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function showTimings(drawMs) {
  const t = state.loadTimings;
  const ms = (v) => (v == null ? '–' : `${Math.round(v)} ms`);
  $('timings').textContent = `Timings: wasm start ${ms(t.wasmInitMs)}, model download ${ms(t.downloadMs)}, ` +
    `weights to ${state.info.backend} ${ms(t.weightsMs)}; analysis first ${ms(state.timings.firstAnalysis)}, ` +
    `latest ${ms(state.timings.lastAnalysis)}; drawing ${ms(drawMs)}.`;
}

/** Re-runs the network when the question changed, otherwise only redraws. */
async function onControl(event) {
  if (event.target.id === 'alpha') $('alpha-value').textContent = Number($('alpha').value).toFixed(2);
  if (!state.photo || !state.report) return;
  const rerun = ['class', 'layer'].includes(event.target.id) ||
    shownMethods().some((m) => !state.computed.has(m));
  try {
    if (rerun) await analyze();
    else await draw();
    showMessage('');
  } catch (err) {
    showMessage(err.message);
  }
}

function wirePhotoInputs() {
  const drop = $('drop');
  $('file').addEventListener('change', (e) => e.target.files[0] && usePhoto(e.target.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (file) usePhoto(file);
  });
  document.addEventListener('paste', (e) => {
    const file = [...e.clipboardData.files][0];
    if (file) usePhoto(file);
  });
}

/** The gallery: one button per sample photo, which analyses it like an uploaded one. */
async function wireSamples() {
  let samples;
  try {
    const response = await fetch(SAMPLES);
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    ({ samples } = await response.json());
  } catch (err) {
    // The page works without them; the gallery just stays hidden.
    console.warn(`no sample photos (${SAMPLES}):`, err);
    return;
  }
  $('sample-list').replaceChildren(...samples.map((sample) => {
    const li = document.createElement('li');
    li.innerHTML = '<button type="button" class="sample" aria-pressed="false"><img alt="" width="96" height="72"><span></span></button>';
    const button = li.firstElementChild;
    const url = `samples/${sample.file}`;
    button.dataset.synset = sample.synset;
    button.title = `Analyse this ${sample.breed} (${sample.synset})`;
    button.querySelector('img').src = url;
    button.querySelector('span').textContent = sample.breed;
    button.addEventListener('click', async () => {
      // Through fetch, so that offline the service worker's copy is used.
      let file;
      try {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
        file = new File([await response.blob()], sample.file, { type: 'image/jpeg' });
      } catch (err) {
        showMessage(`Cannot load the sample ${sample.file}: ${err.message}.`);
        state.attempts++;
        return;
      }
      await usePhoto(file, sample);
    });
    return li;
  }));
  $('samples').hidden = false;
}

/** "Take photo": a live preview, then one frame goes the same way as a picked file. */
function wireCamera() {
  const video = $('camera-video');
  const panel = $('camera');
  // Which opening of the camera is current: one cancelled while the permission prompt was
  // open must not switch the camera on (or keep it on) once the answer comes.
  let opening = 0;
  const close = () => {
    opening++;
    stopCamera(video);
    panel.hidden = true;
    $('camera-capture').disabled = true;
    $('camera-open').disabled = false;
  };
  $('camera-open').addEventListener('click', async () => {
    const mine = ++opening;
    showMessage('');
    $('camera-open').disabled = true;
    panel.hidden = false;
    let stream;
    try {
      stream = await openCamera();
      if (mine !== opening) return stopStream(stream);
      await showCamera(video, stream);
      if (mine !== opening) return stopStream(stream);
      $('camera-capture').disabled = false;
      $('camera-capture').focus();
    } catch (err) {
      stopStream(stream);
      if (mine !== opening) return;
      close();
      showMessage(cameraMessage(err));
    }
  });
  $('camera-capture').addEventListener('click', async () => {
    let file;
    try {
      file = await captureFrame(video);
    } catch (err) {
      showMessage(err.message);
      return;
    } finally {
      close();
    }
    await usePhoto(file);
  });
  $('camera-cancel').addEventListener('click', close);
  panel.addEventListener('keydown', (e) => e.key === 'Escape' && close());
  // Never leave the camera on behind the person's back.
  document.addEventListener('visibilitychange', () => document.hidden && !panel.hidden && close());
}

async function main() {
  await serviceWorker();
  // WebGPU first; the viewer falls back to the CPU by itself when WebGPU is missing or fails.
  // `?backend=cpu` skips WebGPU (software WebGPU adapters are slower than the CPU backend).
  const wanted = new URLSearchParams(location.search).get('backend') ?? 'webgpu';
  try {
    const { viewer, info, timings } = await loadModel(wanted);
    Object.assign(state, { viewer, info });
    viewer.onRestart = (next) => {
      state.info = next.info;
      showBackend(next.info, next.timings);
    };
    showBackend(info, timings);
    buildControls(info);
    for (const id of controls) $(id).addEventListener(id === 'alpha' ? 'input' : 'change', onControl);
    wirePhotoInputs();
    wireCamera();
    await wireSamples();
    $('loading').hidden = true;
    document.querySelector('main').hidden = false;
    document.body.dataset.ready = 'true';
  } catch (err) {
    $('backend').textContent = 'Not running';
    $('progress-label').textContent = `Cannot start: ${err.message}`;
    $('progress-label').classList.add('error');
    document.body.dataset.ready = 'error';
  }
}

main();
