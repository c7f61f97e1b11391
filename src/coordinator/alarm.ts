/**
 * The coordinator's one alarm, kept no later than its earliest timer: a retry coming due, a
 * lease or a record expiring, the circuit's probe.
 *
 * It is only ever moved earlier: setting an alarm is a billed storage write, and the earliest
 * timer moves later with almost every claim and completion (the oldest lease ends). An alarm
 * that fires before anything is due finds nothing to do and re-arms to the earliest timer then,
 * so under load it costs about one write per lease period, not several per job. With no timer
 * left, an alarm still set fires once for nothing and is not re-armed.
 */
import { toIso } from "../jobs";
import { log } from "../log";
import type { JobStore } from "./job-store";

export class AlarmKeeper {
  /** The alarm as storage has it: read when the object starts, then kept in step. */
  private alarmAtMs: number | null = null;
  /** Alarms set so far by this instance (each billed as a row written). */
  writes = 0;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly store: JobStore,
    private readonly queueName: string,
  ) {}

  /** Reads the alarm from storage: when the object starts, and when someone else may have moved it. */
  async reread(): Promise<void> {
    this.alarmAtMs = await this.storage.getAlarm();
  }

  /** The alarm fired, so it is no longer set. */
  fired(): void {
    this.alarmAtMs = null;
  }

  /** Moves the alarm earlier if the earliest timer now comes before it. Call after a change commits. */
  schedule(): void {
    const timers = [this.store.nextTimerMs(), this.store.circuit().probeAtMs].filter((at): at is number => at !== null);
    if (timers.length === 0) return;
    const next = Math.min(...timers);
    if (this.alarmAtMs !== null && this.alarmAtMs <= next) return;
    this.alarmAtMs = next;
    this.writes++;
    this.storage.setAlarm(next).catch((error: unknown) => {
      // Not set after all: the next change sets it again rather than trusting it (and the cron sweep re-reads it).
      if (this.alarmAtMs === next) this.alarmAtMs = null;
      log({ event: "alarm_set_failed", queue: this.queueName, at: toIso(next), error: String(error) }, "error");
    });
  }
}
