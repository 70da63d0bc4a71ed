// Run by the mongo-init Job: `mongosh --nodb --file init-replica-set.js`. Idempotent.
// Environment: MONGO_MEMBERS (host:port,...), MONGO_REPLICA_SET, MONGO_ROOT_USERNAME,
// MONGO_ROOT_PASSWORD, MONGO_CA_FILE (TLS), DB_PREFIX, and for each service
// MONGO_<SERVICE>_USERNAME / MONGO_<SERVICE>_PASSWORD (and MONGO_GATEWAY_*: the gateway's processes): its own
// user, readWrite on ${DB_PREFIX}<service> only (least privilege: no service can read another's data).
const env = process.env;
const members = env.MONGO_MEMBERS.split(",");
const setName = env.MONGO_REPLICA_SET;
const credentials = `${encodeURIComponent(env.MONGO_ROOT_USERNAME)}:${encodeURIComponent(env.MONGO_ROOT_PASSWORD)}`;
// the gateway's own database holds its dashboard and session views (gateway/readmodel, issue #17)
const services = ["accounts", "billing", "domains", "support", "notifications", "hosting", "gateway"];
const tls = `tls=true&tlsCAFile=${encodeURIComponent(env.MONGO_CA_FILE)}`;

function retry(what, fn) {
  for (let attempt = 1; ; attempt++) {
    try {
      return fn();
    } catch (e) {
      if (attempt >= 150) throw e;
      print(`waiting for ${what}: ${e.message}`);
      sleep(2000);
    }
  }
}

// Every member must answer before the set can be initiated.
const first = members.map((host) =>
  retry(host, () => connect(`mongodb://${credentials}@${host}/admin?directConnection=true&authSource=admin&${tls}`))
)[0];

let initiated = true;
try {
  first.adminCommand({ replSetGetStatus: 1 });
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  initiated = false;
}
if (!initiated) {
  const config = { _id: setName, members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })) };
  printjson(first.adminCommand({ replSetInitiate: config }));
}

const admin = retry("a primary", () => {
  const db = connect(`mongodb://${credentials}@${members.join(",")}/admin?replicaSet=${setName}&authSource=admin&${tls}`);
  if (!db.hello().primary) throw new Error("no primary yet");
  return db;
});

const wanted = new Set();
for (const service of services) {
  const user = env[`MONGO_${service.toUpperCase()}_USERNAME`];
  const pwd = env[`MONGO_${service.toUpperCase()}_PASSWORD`];
  if (!user || !pwd) throw new Error(`the Secret mongodb-user-${service} needs username and password`);
  if (wanted.has(user)) throw new Error(`user ${user} is named for two services: each needs its own`);
  wanted.add(user);
  const roles = [{ role: "readWrite", db: `${env.DB_PREFIX}${service}` }];
  if (admin.getUser(user)) {
    admin.updateUser(user, { pwd, roles });
    print(`updated user ${user}: readWrite on ${env.DB_PREFIX}${service}`);
  } else {
    admin.createUser({ user, pwd, roles });
    print(`created user ${user}: readWrite on ${env.DB_PREFIX}${service}`);
  }
}
// The single shared user of earlier versions (readWrite on every database) goes away.
if (!wanted.has("panel") && admin.getUser("panel")) {
  admin.dropUser("panel");
  print("dropped the shared user panel");
}
print(`replica set ${setName} ready: ${JSON.stringify(admin.hello().hosts)}`);
