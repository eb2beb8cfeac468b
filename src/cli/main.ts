import { checkArity, COMMANDS } from "./commands.js";
import { LOCAL_URL, parseCliArgs, UsageError } from "./args.js";
import { createClients, describeError } from "./rpc.js";

/**
 * `presence`: the admin CLI, a client of the service's own API (bin/presence.mjs runs this file
 * through tsx). Exit codes: 0 done (also `tail` ended by Ctrl-C), 1 the server (or the network)
 * answered an error, printed as `presence: <code> <REASON>: <message>`, 2 usage error.
 */
export const EXIT_OK = 0;
export const EXIT_SERVER_ERROR = 1;
export const EXIT_USAGE = 2;

export function usage(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return [
    "usage: presence <command> [arguments] [--url URL] [--token TOKEN] [--json]",
    "",
    "commands:",
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    "",
    "options:",
    `  --url URL      the server's RPC address (env PRESENCE_URL; default ${LOCAL_URL})`,
    "  --token TOKEN  an admin JWT, role \"admin\" (env PRESENCE_ADMIN_TOKEN); mint one with",
    "                 PRESENCE_JWT_SECRET=… npm run -s token -- --sub ops --role admin",
    "  --json         machine-readable output (tail: one JSON object per line)",
    "",
    "exit codes: 0 ok, 1 error answered by the server (or unreachable), 2 usage error",
  ].join("\n");
}

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const out = (line: string) => void process.stdout.write(line + "\n");
  const err = (line: string) => void process.stderr.write(line + "\n");
  let args;
  try {
    args = parseCliArgs(argv, env);
    if (args.help || args.command === "help") {
      out(usage());
      return EXIT_OK;
    }
    if (args.command === "") throw new UsageError("a command is required");
    const command = COMMANDS[args.command];
    if (!command) throw new UsageError(`unknown command "${args.command}"`);
    checkArity(command, args.positionals);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`presence: ${e.message}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await COMMANDS[args.command]!.run({ args, clients: createClients(args.url, args.token), out, err, signal: stop.signal });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`presence: ${e.message}`);
      return EXIT_USAGE;
    }
    err(`presence: ${describeError(e)}`);
    return EXIT_SERVER_ERROR;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
