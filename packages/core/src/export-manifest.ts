import { sha256Hex as hashHex } from '@dfm/backbone/internal';
import { CorruptFileError } from '@dfm/errors';
import { IncompatibleModelError } from './errors';

/** One file of an export folder, as its `manifest.json` lists it. */
export interface ExportManifestFile {
  /** Relative to the manifest's folder (`model.dfm`). */
  path: string;
  /** Hex sha256 of the file. */
  sha256: string;
  /** Size in bytes, when listed. */
  bytes?: number;
}

/** What {@link loadDetector} reads from a `dfm export` folder's `manifest.json`: the model and its weights. */
export interface ExportManifestFiles {
  model: ExportManifestFile;
  /** null: the model file says where the weights are (or the backbone is random). */
  weights: ExportManifestFile | null;
}

/** The manifest format this version reads (`{ "format": "dfm-export", "version": 1, "files": { … } }`). */
export const EXPORT_MANIFEST_FORMAT = { format: 'dfm-export', version: 1 } as const;

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Parses an export folder's `manifest.json` and checks the two entries the Detector needs
 * (`files.model`, `files.weights`); every other key is ignored. Paths must be relative and stay
 * inside the folder.
 *
 * @param label the manifest's path or URL, for messages
 * @throws CorruptFileError (`E_CORRUPT_FILE`) for a file that is not such a manifest
 * @throws IncompatibleModelError (`E_INCOMPATIBLE_MODEL`) for another manifest version
 */
export function parseExportManifest(text: string, label: string): ExportManifestFiles {
  const damaged = (what: string, cause?: unknown): CorruptFileError =>
    new CorruptFileError(`loadDetector(): ${label} ${what}. Export the model again with dfm export.`, { file: label, cause });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw damaged(`is not valid JSON (${(cause as Error).message})`, cause);
  }
  if (!isObject(json) || json.format !== EXPORT_MANIFEST_FORMAT.format) {
    throw damaged(`is not a dfm export manifest (expected "format": "dfm-export", got ${isObject(json) ? JSON.stringify(json.format) : typeof json})`);
  }
  if (json.version !== EXPORT_MANIFEST_FORMAT.version) {
    throw new IncompatibleModelError(
      `loadDetector(): ${label} is a dfm export manifest of version ${JSON.stringify(json.version)} — this version reads version ${EXPORT_MANIFEST_FORMAT.version}. Export the model again with this version's dfm export.`,
      { file: label },
    );
  }
  const files = json.files;
  if (!isObject(files)) throw damaged('has no "files" object');
  const entry = (key: 'model' | 'weights'): ExportManifestFile => {
    const value = files[key];
    if (!isObject(value)) throw damaged(`has files.${key} = ${JSON.stringify(value)}, not { path, sha256, bytes }`);
    const { path, sha256, bytes } = value;
    if (typeof path !== 'string' || !isRelativePath(path)) {
      throw damaged(`has files.${key}.path ${JSON.stringify(path)}: paths must be relative to the manifest's folder, without '..'`);
    }
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw damaged(`has files.${key}.sha256 ${JSON.stringify(sha256)}, not 64 hex digits`);
    if (bytes !== undefined && !(Number.isSafeInteger(bytes) && (bytes as number) >= 0)) throw damaged(`has files.${key}.bytes ${JSON.stringify(bytes)}`);
    return bytes === undefined ? { path, sha256 } : { path, sha256, bytes: bytes as number };
  };
  return { model: entry('model'), weights: files.weights === null || files.weights === undefined ? null : entry('weights') };
}

/** A path relative to a folder that stays inside it: no scheme, no leading slash or drive, no '..' segment. */
function isRelativePath(path: string): boolean {
  if (path.length === 0 || /^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('/') || path.includes('\\')) return false;
  return path.split('/').every((segment) => segment !== '..');
}

/**
 * Checks a file of an export folder against its manifest entry: length (when listed), then sha256.
 *
 * @throws CorruptFileError (`E_CORRUPT_FILE`) naming the file, what was expected and what was got
 */
export async function checkExportFile(bytes: Uint8Array, entry: ExportManifestFile, label: string, manifest: string): Promise<void> {
  if (entry.bytes !== undefined && bytes.length !== entry.bytes) {
    throw new CorruptFileError(
      `loadDetector(): ${label} has ${bytes.length} bytes — ${manifest} lists ${entry.bytes} (a truncated or replaced file). Copy the export folder again.`,
      { file: label },
    );
  }
  const digest = await sha256Hex(bytes);
  if (digest !== entry.sha256) {
    throw new CorruptFileError(
      `loadDetector(): ${label} has sha256 ${digest} — ${manifest} lists ${entry.sha256} (a damaged or replaced file). Copy the export folder again, or export the model again.`,
      { file: label },
    );
  }
}

/** Hex sha256 of an export folder's file (node:crypto in Node, WebCrypto in a page). */
export function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hashHex(bytes, 'loadDetector()');
}
