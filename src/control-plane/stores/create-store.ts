import type { Logger } from '../../observability/logger.js';
import type { Store } from '../store.js';
import { MemoryStore } from './memory-store.js';

/** Which store, and how to reach it. */
export interface StoreChoice {
  kind: 'memory' | 'etcd';
  /** etcd client URLs, for `etcd`. */
  etcdEndpoints?: string[];
  logger: Logger;
}

/** Creates the store a control plane was configured with. */
export async function createStore(choice: StoreChoice): Promise<Store> {
  if (choice.kind === 'memory') return new MemoryStore();
  const { EtcdStore } = await import('./etcd-store.js');
  return EtcdStore.connect({
    endpoints: choice.etcdEndpoints ?? ['http://127.0.0.1:2379'],
    logger: choice.logger,
  });
}
