// Runs the ORIGINAL face-api tiny face detector + 68-point landmark net (tfjs, pure-JS "cpu" backend) on raw RGB
// images written by check_parity.py, and writes their boxes, scores and landmarks as JSON.
//
//   npm install --ignore-scripts            (in this folder; nothing native is downloaded)
//   node reference.mjs IMAGES_DIR OUT.json [MODEL_DIR]
//
// IMAGES_DIR holds images.json ([{name, width, height, file, sha256}]) and the raw uint8 RGB files it names.
// MODEL_DIR defaults to node_modules/@vladmandic/face-api/model. Only tiny_face_detector_model and
// face_landmark_68_model are loaded: face-api's other nets are reserved for independent evaluation.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const [imagesDir, outPath, modelArg] = process.argv.slice(2);
if (!imagesDir || !outPath) {
  console.error('usage: node reference.mjs IMAGES_DIR OUT.json [MODEL_DIR]');
  process.exit(2);
}
const modelDir = modelArg || path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const INPUT_SIZE = 416;
const SCORE_THRESHOLD = 0.5;

await tf.setBackend('cpu');
await tf.ready();
await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);

const points = (landmarks) => landmarks.positions.map((p) => [p.x, p.y]);
const images = JSON.parse(fs.readFileSync(path.join(imagesDir, 'images.json'), 'utf8'));
const results = [];
for (const image of images) {
  const bytes = fs.readFileSync(path.join(imagesDir, image.file));
  const tensor = tf.tensor3d(Float32Array.from(bytes), [image.height, image.width, 3], 'float32');
  const options = new faceapi.TinyFaceDetectorOptions({ inputSize: INPUT_SIZE, scoreThreshold: SCORE_THRESHOLD });
  const found = await faceapi.detectAllFaces(tensor, options).withFaceLandmarks();
  tensor.dispose();
  results.push({
    name: image.name,
    sha256: image.sha256,
    faces: found.map((face) => ({
      box: [face.detection.box.x, face.detection.box.y, face.detection.box.width, face.detection.box.height],
      score: face.detection.score,
      landmarks: points(face.landmarks),
      // Landmarks in the pixels of the crop face-api cut out (its box clipped to the photo and floored).
      crop_landmarks: points(face.unshiftedLandmarks),
    })),
  });
}
const pkg = JSON.parse(fs.readFileSync(require.resolve('@vladmandic/face-api/package.json'), 'utf8'));
const out = {
  generator: 'tools/face_api_reference/reference.mjs',
  face_api_version: pkg.version,
  tfjs_version: tf.version_core,
  backend: tf.getBackend(),
  input_size: INPUT_SIZE,
  score_threshold: SCORE_THRESHOLD,
  images: results,
};
fs.writeFileSync(outPath, `${JSON.stringify(out, null, 1)}\n`);
console.log(`wrote ${outPath}: ${results.map((r) => `${r.name} ${r.faces.length} face(s)`).join(', ')}`);
