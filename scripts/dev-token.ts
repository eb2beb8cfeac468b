/**
 * Prints an HS256 development token signed with PRESENCE_JWT_SECRET, for trying the API by hand:
 *   PRESENCE_JWT_SECRET=… npm run -s token -- --sub ana --name Ana [--picture URL] [--role service|admin] [--ttl 3600]
 * An admin token (the `presence` CLI, AdminService): `--sub ops --role admin`.
 */
import { SignJWT } from "jose";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "dev-user" },
    name: { type: "string" },
    picture: { type: "string" },
    role: { type: "string" },
    ttl: { type: "string", default: "3600" },
  },
});
const secret = process.env.PRESENCE_JWT_SECRET ?? "";
if (Buffer.byteLength(secret) < 32) {
  process.stderr.write("PRESENCE_JWT_SECRET must be set to the server's secret (at least 32 bytes)\n");
  process.exit(2);
}
if (values.role !== undefined && values.role !== "service" && values.role !== "admin") {
  process.stderr.write(`--role: must be service or admin (got ${JSON.stringify(values.role)}); omit it for a user token\n`);
  process.exit(2);
}
const claims: Record<string, unknown> = { sub: values.sub };
if (values.name) claims.name = values.name;
if (values.picture) claims.picture = values.picture;
if (values.role) claims.role = values.role;
const token = await new SignJWT(claims)
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setIssuedAt()
  .setExpirationTime(Math.floor(Date.now() / 1000) + Number(values.ttl))
  .sign(new TextEncoder().encode(secret));
process.stdout.write(token + "\n");
