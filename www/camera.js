// The "Take photo" button: a live preview from the device's camera, one frame captured to a
// canvas and handed on as JPEG bytes, exactly like a picked file. The frame is made here, in
// the page: nothing is recorded or sent anywhere, and the camera is switched off as soon as
// the photo is taken or the person cancels.

/** Asks for the camera; resolves to its stream (the camera is then on). */
export async function openCamera() {
  // Absent outside a secure context (https, or localhost as the bundled server uses).
  if (!navigator.mediaDevices?.getUserMedia) throw cameraError('NotSupportedError');
  return navigator.mediaDevices.getUserMedia({
    audio: false,
    // The back camera on phones and tablets (a dog is rarely the one holding the phone);
    // `ideal`, so that laptops with a single front camera still get it.
    video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
}

/** Shows `stream` in `video`; resolves once its frame size is known (needed to capture). */
export async function showCamera(video, stream) {
  video.srcObject = stream;
  await video.play();
  if (!video.videoWidth) await new Promise((resolve) => video.addEventListener('loadedmetadata', resolve, { once: true }));
}

/** Switches a stream's camera off (its light too). */
export function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/** Switches off the camera `video` shows and clears the preview. */
export function stopCamera(video) {
  stopStream(video.srcObject);
  video.srcObject = null;
}

/** The frame `video` shows now, as a JPEG `File` at the camera's full resolution. */
export async function captureFrame(video) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.92));
  if (!blob) throw new Error('the camera gave an empty picture');
  const time = new Date().toTimeString().slice(0, 8).replaceAll(':', '');
  return new File([blob], `camera-${time}.jpg`, { type: 'image/jpeg' });
}

/** What to tell a person when the camera cannot start, from getUserMedia's error. */
export function cameraMessage(err) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'The camera is blocked: allow it for this page in the browser\'s site settings, ' +
        'or pick a photo instead.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found on this device. Pick, drop or paste a photo instead.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera is busy or could not start (is another program using it?). ' +
        'Close that program and try again, or pick a photo instead.';
    case 'NotSupportedError':
      return 'This browser offers no camera to this page (it needs https or localhost). ' +
        'Pick, drop or paste a photo instead.';
    default:
      return `The camera could not start: ${err?.message || err}. Pick a photo instead.`;
  }
}

function cameraError(name) {
  return new DOMException('no camera API', name);
}
