import assert from 'node:assert/strict';
import { slotSeconds } from '../../jobs/schedules.ts';
import { loadConfig } from '../../app/config.ts';

describe('job schedules', () => {
  it('a tick\'s slot is the shortest gap between runs of its cron expression', () => {
    assert.equal(slotSeconds('* * * * *'), 60);
    assert.equal(slotSeconds('*/10 * * * *'), 600);
    assert.equal(slotSeconds('*/2 * * * * *'), 2);
    assert.equal(slotSeconds('0,10 * * * * *'), 10);
    assert.equal(slotSeconds('0 3 * * *'), 86400);
  });

  it('config refuses a bad cron expression or backoff setting at start', () => {
    assert.throws(() => loadConfig({ COMPENSATION_CRON: 'every minute' }), /COMPENSATION_CRON/);
    assert.throws(() => loadConfig({ TTL_CLEANUP_CRON: '61 * * * *' }), /TTL_CLEANUP_CRON/);
    assert.throws(() => loadConfig({ ACK_RETRY_FACTOR: '0.5' }), /ACK_RETRY_FACTOR/);
    assert.throws(() => loadConfig({ TTL_BATCH: '5' }), /TTL_BATCH/);
    const c = loadConfig({ COMPENSATION_CRON: '*/5 * * * * *', ACK_RETRY_FACTOR: '1.5' });
    assert.equal(c.compensationCron, '*/5 * * * * *');
    assert.equal(c.ackRetryFactor, 1.5);
  });
});
