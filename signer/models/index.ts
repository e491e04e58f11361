/**
 * Model artifacts served to nodes: the .onnx files of the configured folder, addressed by the
 * sha256 of their bytes (the artifact hash the model registry records on chain).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** An artifact on disk. */
export interface Artifact {
  hash: string;
  path: string;
  size: number;
}

/** Index of the artifacts folder, rebuilt when a hash is asked for that is not known yet. */
export class ArtifactIndex {
  #byHash = new Map<string, Artifact>();
  #hashedMtimes = new Map<string, number>();
  #lastScan = 0;

  constructor(readonly dir: string) {}

  /** The artifact with this sha256, or undefined. */
  async find(hash: string): Promise<Artifact | undefined> {
    const known = this.#byHash.get(hash);
    if (known && existsSync(known.path)) return known;
    // Rescan at most once a second so a flood of unknown hashes cannot make us hash all day.
    if (Date.now() - this.#lastScan > 1_000) await this.scan();
    return this.#byHash.get(hash);
  }

  /** Hashes files that are new or changed since the last scan. */
  async scan(): Promise<void> {
    this.#lastScan = Date.now();
    if (!existsSync(this.dir)) return;
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.onnx')) continue;
      const path = join(this.dir, name);
      const st = statSync(path);
      if (this.#hashedMtimes.get(path) === st.mtimeMs) continue;
      const hash = await sha256File(path);
      this.#byHash.set(hash, { hash, path, size: st.size });
      this.#hashedMtimes.set(path, st.mtimeMs);
    }
  }
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}
