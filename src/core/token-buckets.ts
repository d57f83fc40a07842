/** One token bucket: its level and when it was last refilled. */
export interface Bucket {
  level: number;
  updatedAt: number;
}

/**
 * Token buckets by key, at most `maxBuckets` of them: when full, the one used longest ago is forgotten (it would
 * have refilled to capacity anyway), so that callers who come and go cannot grow the map without bound. Pure: the
 * time is passed in.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxBuckets = 10_000) {}

  /** The bucket of `key` refilled at `perMs` tokens per ms up to `capacity` (a full one when new). */
  get(key: string, capacity: number, now: number, perMs: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { level: capacity, updatedAt: now };
    } else {
      this.buckets.delete(key); // re-inserted below: the map stays in order of last use
      bucket.level = Math.min(capacity, bucket.level + (now - bucket.updatedAt) * perMs);
      bucket.updatedAt = now;
    }
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Number of buckets held. */
  get size(): number {
    return this.buckets.size;
  }
}
