import { describe, expect, it } from 'vitest';
import { JobQueue } from '../src/extract/job-queue.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('JobQueue', () => {
  it('never runs more than its limit at once, and drain waits for every job', async () => {
    const queue = new JobQueue(3);
    let running = 0;
    let peak = 0;
    let finished = 0;
    for (let i = 0; i < 40; i++) {
      await queue.run(async () => {
        running++;
        peak = Math.max(peak, running);
        for (let t = 0; t < (i % 4) + 1; t++) await tick();
        running--;
        finished++;
      });
    }
    await queue.drain();
    expect(peak).toBe(3);
    expect(finished).toBe(40);
    expect(queue.failure).toBeUndefined();
  });

  it('keeps the first failure and still lets the other jobs finish', async () => {
    const queue = new JobQueue(2);
    let finished = 0;
    for (let i = 0; i < 6; i++) {
      await queue.run(async () => {
        await tick();
        if (i === 1) throw new Error('first');
        if (i === 3) throw new Error('second');
        finished++;
      });
    }
    await queue.drain();
    expect((queue.failure as Error).message).toBe('first');
    expect(finished).toBe(4);
  });

  it('drain with nothing in flight resolves at once', async () => {
    await new JobQueue(1).drain();
  });
});
