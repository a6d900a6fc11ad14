// Bounded `model` label values: only models the policy names, so a client cannot grow the metric
// series by inventing model names.

import picomatch from 'picomatch';
import type { Config } from '../config/schema.js';

export const OTHER_MODEL = 'other';

/**
 * Models named exactly in rules or path targets keep their name; a model that only a rule glob
 * covers is labelled with that glob (`chat-*`); anything else is `other`. Both sets come from the
 * config, so the label has at most one value per model name or glob in the policy, plus `other`.
 */
export function modelLabeler(policy: Config['policy']): (model: string | undefined) => string {
  const exact = new Set<string>();
  const globs: Array<[string, (m: string) => boolean]> = [];
  const seenGlobs = new Set<string>();
  const names = [...policy.rules.flatMap((r) => r.models), ...policy.targets.paths.flatMap((p) => (p.model ? [p.model] : []))];
  for (const name of names) {
    if (name === '*') continue;
    // Models arrive lower-cased (policy/names.ts); the label is the lower-cased name.
    if (!picomatch.scan(name).isGlob) exact.add(name.toLowerCase());
    else if (!seenGlobs.has(name)) {
      seenGlobs.add(name);
      try {
        const re = picomatch.makeRe(name, { dot: true, nocase: true });
        globs.push([name, (m) => re.test(m)]);
      } catch {
        // An invalid glob never passes validation; ignore it here rather than fail a label.
      }
    }
  }
  return (model) => {
    if (!model) return 'none';
    if (exact.has(model)) return model;
    for (const [glob, test] of globs) if (test(model)) return glob;
    return OTHER_MODEL;
  };
}
