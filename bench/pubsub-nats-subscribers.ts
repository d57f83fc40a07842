/**
 * The NATS side of the pub/sub benchmark's subscribers, several in one process, each with a connection of its own
 * (as each agent-mesh subscriber agent has its own server):
 * `tsx bench/pubsub-nats-subscribers.ts <nats port> <jetstream|core> <stream or subject> <first index> <count>
 * <targets>`. With `jetstream`, subscriber `i` consumes the durable consumer `sink-<i>` of the stream (made by the
 * benchmark, explicit acks) and acknowledges every message; with `core`, it subscribes to the subject. `targets` is a
 * comma-separated list of counts: when every subscriber of the process has handled that many distinct messages (by
 * stream sequence; by arrival for core NATS, which does not redeliver) and its acks have reached the server (a
 * flush: the server answers a PING after the acks before it), the process prints `reached <target>`. Prints `ready`
 * once every subscriber is consuming.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

const [port, mode, source, first, count, targetList] = process.argv.slice(2);
const targets = targetList!.split(',').map(Number);
const connections: NatsConnection[] = [];
const handled: number[] = [];
let next = 0;

/** Prints each target that every subscriber has reached, once their acks are on the server. */
let checking = false;
async function check(): Promise<void> {
  if (checking) return;
  checking = true;
  while (next < targets.length && handled.every((n) => n >= targets[next]!)) {
    await Promise.all(connections.map((nc) => nc.flush()));
    console.log(`reached ${targets[next]}`);
    next += 1;
  }
  checking = false;
}

for (let i = Number(first); i < Number(first) + Number(count); i += 1) {
  const nc = await connect({ servers: `127.0.0.1:${port}`, name: `sink-${i}` });
  connections.push(nc);
  const index = handled.push(0) - 1;
  const reached = () => {
    if (next < targets.length && handled[index]! >= targets[next]!) void check();
  };
  if (mode === 'jetstream') {
    const seen = new Set<number>();
    const consumer = await jetstream(nc).consumers.get(source!, `sink-${i}`);
    await consumer.consume({
      max_messages: 1_000,
      callback: (message) => {
        if (!seen.has(message.seq)) {
          seen.add(message.seq);
          handled[index] = seen.size;
        }
        message.ack();
        reached();
      },
    });
  } else {
    nc.subscribe(source!, {
      callback: () => {
        handled[index] = handled[index]! + 1;
        reached();
      },
    });
    await nc.flush(); // the subscription is on the server before `ready`
  }
}
console.log('ready');
process.on('SIGTERM', () => {
  void Promise.all(connections.map((nc) => nc.close())).finally(() => process.exit(0));
});
