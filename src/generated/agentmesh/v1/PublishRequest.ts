// Original file: proto/agentmesh/v1/events.proto


export interface PublishRequest {
  /**
   * Dot-separated segments, e.g. "orders.created"; no wildcards.
   */
  'topic'?: (string);
  /**
   * The event's body, opaque to the mesh.
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * The payload's media type; "application/octet-stream" when empty.
   */
  'contentType'?: (string);
  /**
   * Ordering key: events with the same key reach each subscription one at a time, in publish order. Empty:
   * unordered.
   */
  'key'?: (string);
  /**
   * An id of the publisher's choosing, e.g. to recognize a retried publish; a UUID when empty. At most 256
   * characters, as the key; the content type at most 128.
   */
  'eventId'?: (string);
}

export interface PublishRequest__Output {
  /**
   * Dot-separated segments, e.g. "orders.created"; no wildcards.
   */
  'topic': (string);
  /**
   * The event's body, opaque to the mesh.
   */
  'payload': (Buffer);
  /**
   * The payload's media type; "application/octet-stream" when empty.
   */
  'contentType': (string);
  /**
   * Ordering key: events with the same key reach each subscription one at a time, in publish order. Empty:
   * unordered.
   */
  'key': (string);
  /**
   * An id of the publisher's choosing, e.g. to recognize a retried publish; a UUID when empty. At most 256
   * characters, as the key; the content type at most 128.
   */
  'eventId': (string);
}
