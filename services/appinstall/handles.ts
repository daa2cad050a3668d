// Handles of the feed and catalog operations (`/feeds/refresh`, `/catalog/download`): decimal strings from one
// counter. The one place to switch to the engine's OperationStore once it is wired in (engine/operation-store.ts).
let next = 1;

export function allocateHandle(): string {
  return String(next++);
}
