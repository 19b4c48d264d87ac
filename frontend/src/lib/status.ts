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

/** The word (and badge class) for a flow step's Windmill type. A finished
 * flow keeps the type of the steps it never reached (Windmill's status does
 * not change them), so `flowEnded` says they did not run rather than that
 * they still wait. */
export function stepStatus(type: string, flowEnded = false): string {
  if (flowEnded && type.startsWith("WaitingFor")) return "not run";
  return stepWords[type] ?? type.toLowerCase();
}
