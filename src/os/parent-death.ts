/**
 * Child processes that die with this one: on Linux, `setpriv --pdeathsig` (util-linux) exec()s a program
 * with a parent-death signal set, so a SIGKILLed worker or `squadflow dev` leaves no agent or server
 * behind. Node-only: never import from workflows.
 */
import { existsSync } from "node:fs";

/** `setpriv`, when this is Linux and it is installed; else `undefined` (children are then not tied to us). */
export const SETPRIV =
  process.platform === "linux" ? ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) : undefined;

/**
 * The command line that runs `command args` with parent-death signal `signal` (`setpriv --pdeathsig
 * <signal> -- command args…`), or `command args` unchanged where there is no `setpriv`.
 */
export function withParentDeathSignal(
  signal: "KILL" | "TERM",
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  return SETPRIV
    ? { command: SETPRIV, args: ["--pdeathsig", signal, "--", command, ...args] }
    : { command, args: [...args] };
}
