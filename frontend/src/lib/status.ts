// One set of words for a run's or a flow step's state, wherever it shows:
// jobs say "success", Windmill's flow steps say "Success" or "InProgress".
const stepWords: Record<string, string> = {
  Success: "success",
  Failure: "failure",
  InProgress: "running",
  WaitingForExecutor: "queued",
  WaitingForPriorSteps: "waiting",
  WaitingForEvents: "waiting",
};

/** The word (and badge class) for a flow step's Windmill type. */
export function stepStatus(type: string): string {
  return stepWords[type] ?? type.toLowerCase();
}
