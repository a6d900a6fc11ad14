// A CheckInput shaped like the one the decoder builds from Envoy's CheckRequest, for unit tests of
// the stages that read it (identity sources, target, rules, the pipeline); no sockets, no protobuf.

import type { CheckInput } from '../../src/check/check-input.js';

export interface CheckInputOverrides extends Partial<Omit<CheckInput, 'source'>> {
  readonly source?: Partial<CheckInput['source']>;
}

export function checkInput(o: CheckInputOverrides = {}): CheckInput {
  const { source, ...rest } = o;
  return {
    requestId: 'req-1',
    streamId: '1',
    method: 'POST',
    path: '/v1/models/churn:predict',
    host: 'models.internal',
    scheme: 'https',
    headers: {},
    contextExtensions: {},
    filterMetadata: {},
    ...rest,
    source: { principal: '', certificate: '', address: '10.0.0.7:51234', ...source },
  };
}

/** A complete JSON body as Envoy sends it with with_request_body. */
export function jsonBody(value: unknown): CheckInput['body'] {
  return { text: JSON.stringify(value), partial: false };
}
