// Global setup: says once per run when the Envoy tests will skip (no binary outside CI). In CI the
// helper itself fails the run on import, so a broken install step can never pass as a skip.

import { ENVOY_BIN, ENVOY_INSTALL_HINT } from '../helpers/envoy.js';

export default function setup(): void {
  if (!ENVOY_BIN) process.stderr.write(`\nEnvoy tests skipped: no Envoy binary found; ${ENVOY_INSTALL_HINT}.\n\n`);
}
