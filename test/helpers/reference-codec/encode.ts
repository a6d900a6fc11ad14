// The readable reference encoding of an Answer as Envoy's CheckResponse (objects for proto-loader),
// for tests only. The Check handler sends src/grpc/encode-wire.ts's bytes;
// test/unit/grpc/encode-wire.test.ts proves the two agree byte for byte on every answer shape.

import type { Answer, HeaderList } from '../../../src/decision/answer.js';
import type { PbCheckResponse, PbHeaderValueOption } from '../../../src/grpc/envoy-types.js';
import { jsonToStruct } from '../../../src/grpc/struct.js';

/**
 * Every header is sent with OVERWRITE_IF_EXISTS_OR_ADD: without an explicit action newer Envoy
 * appends a second copy, which would let a client-sent x-modelgate-subject survive next to ours.
 */
function headerOptions(headers: HeaderList): PbHeaderValueOption[] {
  return headers.map(([key, value]) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }));
}

export function encodeCheckResponse(answer: Answer): PbCheckResponse {
  const dynamic_metadata = jsonToStruct(answer.metadata);
  if (answer.allowed) {
    return {
      status: { code: 0 },
      ok_response: {
        headers: headerOptions(answer.upstreamHeaders),
        headers_to_remove: answer.headersToRemove as string[],
        response_headers_to_add: headerOptions(answer.clientHeaders),
      },
      dynamic_metadata,
    };
  }
  return {
    status: { code: answer.grpcCode },
    denied_response: {
      status: { code: answer.httpStatus },
      headers: headerOptions(answer.clientHeaders),
      body: answer.body,
    },
    dynamic_metadata,
  };
}
