// Creates, or brings up to date, one MongoDB user per SCORE service: user <service> defined in
// database score_<service>, with the single role readWrite on that database. No service can
// read another's data, and none can administer the server.
//
// Run with mongosh as the root user, against the primary (mongosh includes Node's `process`):
//   mongosh --host mongodb -u root -p ... --authenticationDatabase admin init-users.js
//
// The credentials come from each service's own connection string, <SERVICE>_MONGODB_URI: the
// same value the service receives as MONGODB_URI. A password is thus written once per platform
// (.env for compose, the service's Secret for Kubernetes) and cannot drift from what the
// service uses. Idempotent: runs on every `docker compose up` / `kubectl apply`, and a changed
// password is applied with updateUser.
//
// deploy/k8s/mongodb.yaml carries a byte-for-byte copy (kustomize cannot read files outside
// deploy/k8s); tests/deploy/test_k8s.py fails when the two differ.

const SERVICES = ["enrollment", "scheduling", "coaching", "reporting", "notifications", "gateway"];

function parseMongoUri(name, uri) {
  const m = /^mongodb:\/\/([^:@\/]+):([^@\/]+)@([^\/]+)\/([^?]*)(?:\?(.*))?$/.exec(uri);
  if (!m) {
    throw new Error(`${name} must look like mongodb://user:password@host:27017/database?authSource=database`);
  }
  const params = {};
  for (const pair of (m[5] || "").split("&").filter(Boolean)) {
    const eq = pair.indexOf("=");
    params[eq < 0 ? pair : pair.slice(0, eq)] = eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1));
  }
  const database = decodeURIComponent(m[4]);
  return {
    user: decodeURIComponent(m[1]),
    password: decodeURIComponent(m[2]),
    database: database,
    // Without authSource the driver authenticates against the database in the path.
    authSource: params.authSource || database,
  };
}

function planUsers(env) {
  const plan = [];
  const passwordOwner = new Map();
  for (const service of SERVICES) {
    const name = `${service.toUpperCase()}_MONGODB_URI`;
    if (!env[name]) {
      throw new Error(`${name} is not set`);
    }
    const parsed = parseMongoUri(name, env[name]);
    const database = `score_${service}`;
    // The user name and database are fixed by the service name so that a copy-paste slip in
    // one URI cannot hand a service someone else's database.
    if (parsed.user !== service || parsed.database !== database || parsed.authSource !== database) {
      throw new Error(
        `${name} must name user ${service}, database ${database} and authSource=${database}; ` +
        `got user ${parsed.user}, database ${parsed.database}, authSource=${parsed.authSource}`);
    }
    if (passwordOwner.has(parsed.password)) {
      throw new Error(`${name} reuses the password of ${passwordOwner.get(parsed.password)}`);
    }
    passwordOwner.set(parsed.password, name);
    plan.push({ user: parsed.user, password: parsed.password, database: database });
  }
  return plan;
}

for (const entry of planUsers(process.env)) {
  const target = db.getSiblingDB(entry.database);
  const roles = [{ role: "readWrite", db: entry.database }];
  if (target.getUser(entry.user)) {
    target.updateUser(entry.user, { pwd: entry.password, roles: roles });
    print(`updated user ${entry.user}: readWrite on ${entry.database}`);
  } else {
    target.createUser({ user: entry.user, pwd: entry.password, roles: roles });
    print(`created user ${entry.user}: readWrite on ${entry.database}`);
  }
}
