import { Job, type Queue, type QueueEvents } from 'bullmq';

/** How a job ended. */
export type JobOutcome<R> = { id: string; status: 'completed'; value: R } | { id: string; status: 'failed'; error: string; attempts: number };

const parse = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
};

/**
 * Yields each job of `ids` once, as it ends (completed, or failed after its last attempt), in the order
 * they end. Events (QueueEvents) wake it at once; a sweep of the job states every `sweepMs` catches
 * what events cannot tell (jobs that ended before the subscription, events lost while Redis restarted),
 * so every job is yielded exactly once whatever happens to the connection.
 */
export async function* waitForJobs<R>(queue: Queue, events: QueueEvents, ids: readonly string[], options: { sweepMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<JobOutcome<R>> {
  const pending = new Set(ids);
  const ready: JobOutcome<R>[] = [];
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const settle = (outcome: JobOutcome<R>) => {
    if (!pending.delete(outcome.id)) return;
    ready.push(outcome);
    notify();
  };
  const check = async (id: string) => {
    const job = await Job.fromId(queue, id);
    if (job === undefined || !pending.has(id)) return;
    if (job.finishedOn !== undefined && job.finishedOn > 0) {
      if (job.failedReason !== undefined && job.failedReason !== null && job.failedReason !== '' && (await job.isFailed())) {
        settle({ id, status: 'failed', error: job.failedReason, attempts: job.attemptsMade });
      } else if (await job.isCompleted()) {
        settle({ id, status: 'completed', value: parse(job.returnvalue) as R });
      }
    }
  };
  const onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => {
    if (pending.has(jobId)) settle({ id: jobId, status: 'completed', value: parse(returnvalue) as R });
  };
  // A failed attempt that will be retried also emits 'failed': look at the job's state before settling.
  const onFailed = ({ jobId }: { jobId: string }) => {
    if (pending.has(jobId)) check(jobId).catch(() => {});
  };
  events.on('completed', onCompleted as never);
  events.on('failed', onFailed as never);
  let sweeping = false;
  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      const list = [...pending];
      for (let i = 0; i < list.length; i += 200) await Promise.all(list.slice(i, i + 200).map((id) => check(id).catch(() => {})));
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(() => void sweep(), options.sweepMs ?? 2000);
  try {
    await sweep();
    while (pending.size > 0 || ready.length > 0) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      if (ready.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          options.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        continue;
      }
      yield ready.shift()!;
    }
  } finally {
    clearInterval(timer);
    events.off('completed', onCompleted as never);
    events.off('failed', onFailed as never);
  }
}
