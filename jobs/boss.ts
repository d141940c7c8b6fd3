// pg-boss, in its own schema of our database. It coordinates jobs across instances with
// SKIP LOCKED; a scheduled job runs once per tick cluster-wide, not once per instance.
import PgBoss from 'pg-boss';

export const BOSS_SCHEMA = 'mailslot_jobs';

export async function startBoss(connectionString: string, onError: (err: Error) => void): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString,
    schema: BOSS_SCHEMA,
    application_name: 'mailslot-jobs',
    max: 4,
    // Finished jobs are history we do not need for long; job_runs keeps our own record.
    deleteAfterDays: 2,
  });
  // Required: an emitter without an error listener would take the process down.
  boss.on('error', onError);
  await boss.start();
  return boss;
}
