// Run by the mongo-init Job: `mongosh --nodb --file init-replica-set.js`. Idempotent.
// Environment: MONGO_MEMBERS (host:port,...), MONGO_REPLICA_SET, MONGO_ROOT_USERNAME,
// MONGO_ROOT_PASSWORD, MONGO_APP_USERNAME, MONGO_APP_PASSWORD, DB_PREFIX.
const env = process.env;
const members = env.MONGO_MEMBERS.split(",");
const setName = env.MONGO_REPLICA_SET;
const credentials = `${encodeURIComponent(env.MONGO_ROOT_USERNAME)}:${encodeURIComponent(env.MONGO_ROOT_PASSWORD)}`;
const services = ["accounts", "billing", "domains", "support", "notifications"];

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
  retry(host, () => connect(`mongodb://${credentials}@${host}/admin?directConnection=true&authSource=admin`))
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
  const db = connect(`mongodb://${credentials}@${members.join(",")}/admin?replicaSet=${setName}&authSource=admin`);
  if (!db.hello().primary) throw new Error("no primary yet");
  return db;
});

const user = env.MONGO_APP_USERNAME;
const roles = services.map((service) => ({ role: "readWrite", db: `${env.DB_PREFIX}${service}` }));
if (admin.getUser(user)) {
  admin.updateUser(user, { pwd: env.MONGO_APP_PASSWORD, roles });
  print(`updated user ${user}`);
} else {
  admin.createUser({ user, pwd: env.MONGO_APP_PASSWORD, roles });
  print(`created user ${user}`);
}
print(`replica set ${setName} ready: ${JSON.stringify(admin.hello().hosts)}`);
