import { Counter, Histogram, type CounterConfiguration, type HistogramConfiguration } from 'prom-client';
import { codeName } from '../core/errors.js';

/**
 * Call counts and durations kept as plain numbers on the call path and read into their Prometheus samples when
 * scraped: prom-client hashes a series' labels on every `inc` and `observe`, which at thousands of calls a second
 * costs more than the rest of the measurement. A series is found by (other type, method) through two map lookups
 * and by code through an array.
 */

/** The labels of a call series: the two agent types and the method. */
export type CallLabels = { caller_type: string; callee_type: string; method: string };

/** A count that only grows, with the labels it is exported under. */
interface CountTally {
  readonly labels: CallLabels & { code: string };
  value: number;
}

/** Durations in seconds: a count per bucket (not cumulative, the last one above every bound), their sum and count. */
class DurationTally {
  readonly buckets: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: CallLabels,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > this.bounds[bucket]!) bucket += 1;
    this.buckets[bucket]! += 1;
    this.sum += seconds;
    this.count += 1;
  }
}

/** The series of one (other type, method): its durations, and its counts by gRPC code. */
export class CallSeries {
  private readonly counts: CountTally[] = [];

  constructor(
    private readonly family: CallTallies,
    private readonly labels: CallLabels,
    private readonly duration: DurationTally,
  ) {}

  /** A call ended with `code` after `ms`. */
  record(code: number, ms: number): void {
    this.count(code);
    this.duration.observe(ms / 1000);
  }

  /** A call ended with `code` without a duration to tell (it never reached an instance). */
  count(code: number): void {
    let tally = this.counts[code];
    if (!tally) {
      tally = { labels: { ...this.labels, code: codeName(code) }, value: 0 };
      this.counts[code] = tally;
      this.family.counts.push(tally);
    }
    tally.value += 1;
  }
}

/** The call tallies of one family (the calls a process made, or those it served), shared by its agents. */
export class CallTallies {
  /** @internal */
  readonly counts: CountTally[] = [];
  /** @internal */
  readonly durations: DurationTally[] = [];

  constructor(private readonly bounds: readonly number[]) {}

  /** A new series with `labels` (the caller keeps it: asking twice makes two). */
  series(labels: CallLabels): CallSeries {
    const duration = new DurationTally(labels, this.bounds);
    this.durations.push(duration);
    return new CallSeries(this, labels, duration);
  }

  /** The counter of this family, read from the tallies when scraped. */
  counter(configuration: Omit<CounterConfiguration<string>, 'collect'>): Counter<string> {
    const counts = this.counts;
    return new Counter({
      ...configuration,
      collect() {
        this.reset();
        for (const tally of counts) this.inc(tally.labels, tally.value);
      },
    });
  }

  /** The duration histogram of this family, read from the tallies when scraped. */
  histogram(configuration: HistogramConfiguration<string> & { buckets: number[] }): Histogram<string> {
    return new TalliedHistogram(configuration, this.durations);
  }
}

type HistogramSample = { labels: Record<string, string | number>; value: number; metricName: string };

/** A histogram whose samples are those of its tallies: nothing is observed through prom-client. */
class TalliedHistogram extends Histogram<string> {
  constructor(
    private readonly configuration: HistogramConfiguration<string> & { buckets: number[] },
    private readonly tallies: readonly DurationTally[],
  ) {
    super(configuration);
  }

  override get(): ReturnType<Histogram<string>['get']> {
    return Promise.resolve(this.read() as unknown as Awaited<ReturnType<Histogram<string>['get']>>);
  }

  /** What prom-client's registry reads for the text exposition (it prefers this to `get`). */
  getForPromString(): ReturnType<Histogram<string>['get']> {
    return this.get();
  }

  private read() {
    const { name, help, buckets: bounds } = this.configuration;
    const values: HistogramSample[] = [];
    for (const tally of this.tallies) {
      if (tally.count === 0) continue; // counted calls that were never timed (see CallSeries.count)
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i += 1) {
        cumulative += tally.buckets[i]!;
        values.push({
          labels: { ...tally.labels, le: bounds[i]! },
          value: cumulative,
          metricName: `${name}_bucket`,
        });
      }
      values.push({
        labels: { ...tally.labels, le: '+Inf' },
        value: tally.count,
        metricName: `${name}_bucket`,
      });
      values.push({ labels: tally.labels, value: tally.sum, metricName: `${name}_sum` });
      values.push({ labels: tally.labels, value: tally.count, metricName: `${name}_count` });
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  }
}
