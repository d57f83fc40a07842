import { describe, expect, it } from 'vitest';
import { withoutGrpcNotes } from '../../src/transport/status.js';

describe("grpc-js's own status details, in the mesh's words", () => {
  it('keeps what happened and drops the timing breakdown and resolver notes', () => {
    expect(
      withoutGrpcNotes(
        'Deadline exceeded after 10.001s,name resolution: 0.001s,metadata filters: 0.001s,LB pick: 0.006s,remote_addr=127.0.0.1:44417',
      ),
    ).toBe('Deadline exceeded after 10.001s');
    expect(withoutGrpcNotes('Deadline exceeded after 0.002s,waiting for name resolution')).toBe(
      'Deadline exceeded after 0.002s',
    );
    expect(
      withoutGrpcNotes(
        'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: resolved 1 address',
      ),
    ).toBe('no connection could be made (connect ECONNREFUSED 127.0.0.1:1)');
    expect(
      withoutGrpcNotes(
        'No connection established. Last error: Error: 803C64DA207F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:',
      ),
    ).toBe('no connection could be made (TLS: wrong version number: not a TLS server (an HTTP port?))');
    expect(withoutGrpcNotes('the payload is not JSON')).toBe('the payload is not JSON');
  });
});
