// Reads deploy/kubernetes: every YAML document, and each kustomization rendered the way
// `kubectl apply -k` would for what these manifests use (resources, map-only patches, images).
// Anything else in a kustomization is refused here rather than rendered wrongly.

import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const KUBE_DIR = join(import.meta.dirname, '../../../deploy/kubernetes');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface LoadedDoc {
  readonly file: string;
  readonly object: K8sObject;
}

export function loadDocs(file: string): K8sObject[] {
  // YAML 1.1, as Kubernetes reads it (0440 is octal there).
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1' });
  return docs.map((doc, n) => {
    if (doc.errors.length > 0) throw new Error(`${file} document ${n}: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  });
}

/** Every document of every .yaml file under deploy/kubernetes, kustomizations included. */
export function allDocs(dir = KUBE_DIR): LoadedDoc[] {
  const out: LoadedDoc[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...allDocs(path));
    else if (/\.ya?ml$/.test(name)) for (const object of loadDocs(path)) out.push({ file: relative(KUBE_DIR, path), object });
  }
  return out;
}

interface Kustomization {
  apiVersion: string;
  kind: string;
  resources?: string[];
  patches?: Array<{ path: string }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

const KNOWN_KEYS = new Set(['apiVersion', 'kind', 'resources', 'patches', 'images']);

/** The objects `kubectl apply -k dir` would apply (for the subset of kustomize these files use). */
export function render(dir: string): K8sObject[] {
  const k = loadDocs(join(dir, 'kustomization.yaml'))[0] as unknown as Kustomization;
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') throw new Error(`${dir}: not a Kustomization`);
  for (const key of Object.keys(k)) if (!KNOWN_KEYS.has(key)) throw new Error(`${dir}/kustomization.yaml: ${key} is not rendered by this test helper`);
  const objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = resolve(dir, resource);
    if (statSync(path).isDirectory()) objects.push(...render(path));
    else objects.push(...loadDocs(path));
  }
  for (const patch of k.patches ?? []) {
    for (const doc of loadDocs(resolve(dir, patch.path))) {
      const targets = objects.filter((o) => o.kind === doc.kind && o.metadata.name === doc.metadata.name && o.metadata.namespace === doc.metadata.namespace);
      if (targets.length !== 1) throw new Error(`${patch.path}: patch matches ${targets.length} objects`);
      mergeMaps(targets[0]!, doc, patch.path);
    }
  }
  for (const image of k.images ?? []) {
    for (const o of objects) {
      for (const c of podContainers(o)) {
        if (c.image === image.name) c.image = `${image.newName ?? image.name}${image.newTag ? `:${image.newTag}` : ''}`;
      }
    }
  }
  const ids = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new Error(`${dir}: ${dup} twice`);
  return objects;
}

/** A strategic merge patch restricted to maps: lists would need merge keys, so a patch holding one is refused. */
function mergeMaps(target: Record<string, unknown>, patch: Record<string, unknown>, where: string): void {
  for (const [key, value] of Object.entries(patch)) {
    if (Array.isArray(value)) throw new Error(`${where}: ${key}: list patches are not supported here`);
    const current = target[key];
    if (value && typeof value === 'object' && current && typeof current === 'object' && !Array.isArray(current)) {
      mergeMaps(current as Record<string, unknown>, value as Record<string, unknown>, where);
    } else {
      target[key] = value;
    }
  }
}

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}

export interface Probe {
  httpGet?: { path: string; port: number | string };
}

export function podContainers(o: K8sObject): Container[] {
  const spec = (o.spec as { template?: { spec?: { containers?: Container[] } } } | undefined)?.template?.spec;
  return spec?.containers ?? [];
}

export function find<T = K8sObject>(objects: readonly K8sObject[], kind: string, name?: string): T {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hits.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${hits.length}`);
  return hits[0] as T;
}

/**
 * The config text as a test can run it: each of the container's mount paths replaced by
 * `root/<volume name>` (created), in one pass so a mapped path is never mapped again.
 */
export function mapMounts(text: string, container: Container, root: string): string {
  const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
  for (const mount of mounts) mkdirSync(join(root, mount.name), { recursive: true });
  const escaped = mounts.map((m) => m.mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`(?<![\\w/.-])(${escaped.join('|')})/`, 'g');
  return text.replace(pattern, (_all, mountPath: string) => `${join(root, mounts.find((m) => m.mountPath === mountPath)!.name)}/`);
}
