/**
 * What the bench expects of the queue it fills: the waiting jobs in the coordinator's dispatch
 * order (priority lanes, first in first out within one). The bench checks every position the
 * coordinator answers, and every job it dispatches, against this model.
 */
export type Priority = "high" | "medium" | "low";
const LANES: Priority[] = ["high", "medium", "low"];

/** The fill's mix: mostly low, one in ten medium, one in fifty high, spread through the fill. */
export const fillPriority = (i: number): Priority => (i % 50 === 0 ? "high" : i % 10 === 5 ? "medium" : "low");

export const benchJob = (id: string, priority: Priority) =>
  ({ id, type: "research_workflow", payload: { itemName: id }, priority, maxRetries: 3 }) as const;

export class QueueModel {
  private readonly lanes: Record<Priority, string[]> = { high: [], medium: [], low: [] };

  get waiting(): number {
    return LANES.reduce((sum, lane) => sum + this.lanes[lane].length, 0);
  }

  /** Adds a job at the back of its lane and returns its index in the lane. */
  add(id: string, priority: Priority): number {
    return this.lanes[priority].push(id) - 1;
  }

  /** Takes back the job just added to `priority`'s lane (it was cancelled). */
  removeLast(id: string, priority: Priority): void {
    if (this.lanes[priority].at(-1) !== id) throw new Error(`${id} is not the last ${priority} job`);
    this.lanes[priority].pop();
  }

  /** The 1-based queue position of the job at `index` in `priority`'s lane. */
  positionAt(priority: Priority, index: number): number {
    return LANES.slice(0, LANES.indexOf(priority)).reduce((sum, lane) => sum + this.lanes[lane].length, index + 1);
  }

  /** The position a new job of `priority` would be answered. */
  positionOfNew(priority: Priority): number {
    return this.positionAt(priority, this.lanes[priority].length);
  }

  /** The last job to be dispatched, and its position: the queue's depth. */
  back(): { id: string; position: number } {
    const lane = [...LANES].reverse().find((l) => this.lanes[l].length > 0);
    if (!lane) throw new Error("the queue is empty");
    return { id: this.lanes[lane].at(-1)!, position: this.waiting };
  }

  /** Takes out the job the coordinator must dispatch next: the oldest of the best lane. */
  dispatchNext(): { id: string; priority: Priority } {
    const lane = LANES.find((l) => this.lanes[l].length > 0);
    if (!lane) throw new Error("the queue is empty");
    return { id: this.lanes[lane].shift()!, priority: lane };
  }

  describe(): string {
    return LANES.map((lane) => `${this.lanes[lane].length} ${lane}`).join(", ");
  }
}
