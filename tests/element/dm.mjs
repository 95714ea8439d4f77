// Element's own crypto stack (matrix-js-sdk + its Rust crypto, wasm) talking to the bot.
//
// Usage: node dm.mjs '<json>'  with
//   {homeserver, user_id, password, bot, mode: "enforced"|"legacy", messages: [...],
//    timeout_ms, room_id?}  (room_id: join that room instead of opening a DM)
// Opens an encrypted DM with the bot as Element does (the first message is sent right after
// the invite, before the bot has joined), sends each message and waits for the bot's reply
// to it. Prints one JSON line on stdout:
//   {room_id, device_id, bot_devices: [{device_id, signed_by_owner}],
//    results: [{body, event_id, reply: {decrypted, body, failure} | null}]}
// Node 20: matrix-js-sdk 43 needs Promise.withResolvers (Node 22), polyfilled before import.

if (!Promise.withResolvers) {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const sdk = await import("matrix-js-sdk");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
logger.setLevel("error");

const cfg = JSON.parse(process.argv[2]);
const timeoutMs = cfg.timeout_ms ?? 30000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...args) => console.error("[element]", ...args);

async function waitFor(what, check, ms = timeoutMs) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const auth = {
  type: "m.login.password",
  identifier: { type: "m.id.user", user: cfg.user_id },
  password: cfg.password,
};
const login = await sdk.createClient({ baseUrl: cfg.homeserver }).loginRequest(auth);
const client = sdk.createClient({
  baseUrl: cfg.homeserver,
  userId: login.user_id,
  accessToken: login.access_token,
  deviceId: login.device_id,
});
await client.initRustCrypto({ useIndexedDB: false });
const crypto = client.getCrypto();
// As Element does at sign-up: this user has cross-signing, so its device is signed.
await crypto.bootstrapCrossSigning({
  authUploadDeviceSigningKeys: async (makeRequest) => {
    await makeRequest(auth);
  },
});
crypto.setDeviceIsolationMode(
  cfg.mode === "legacy"
    ? new cryptoApi.AllDevicesIsolationMode(false)
    : new cryptoApi.OnlySignedDevicesIsolationMode(),
);

const prepared = new Promise((resolve) => {
  client.on(sdk.ClientEvent.Sync, (state) => {
    if (state === "PREPARED" || state === "SYNCING") resolve();
  });
});
await client.startClient({ initialSyncLimit: 20 });
await prepared;

let roomId = cfg.room_id;
if (roomId) {
  await client.joinRoom(roomId); // an existing room (the triage room): invited already
} else {
  const created = await client.createRoom({
    is_direct: true,
    invite: [cfg.bot],
    preset: "trusted_private_chat",
    initial_state: [
      {
        type: "m.room.encryption",
        state_key: "",
        content: { algorithm: "m.megolm.v1.aes-sha2" },
      },
    ],
  });
  roomId = created.room_id;
  await client.setAccountData("m.direct", { [cfg.bot]: [roomId] });
}
await waitFor("the room to sync", async () => {
  const room = client.getRoom(roomId);
  return room && (await crypto.isEncryptionEnabledInRoom(roomId));
});

function botJoined() {
  const member = client.getRoom(roomId)?.getMember(cfg.bot);
  return member?.membership === "join";
}

async function replyTo(eventId) {
  const room = client.getRoom(roomId);
  for (const ev of room.getLiveTimeline().getEvents()) {
    if (ev.getSender() !== cfg.bot || ev.getType() === "m.room.member") continue;
    await client.decryptEventIfNeeded(ev);
    const content = ev.isDecryptionFailure() ? ev.getWireContent() : ev.getContent();
    const relates = content["m.relates_to"] ?? ev.getWireContent()["m.relates_to"] ?? {};
    if (relates["m.in_reply_to"]?.event_id !== eventId) continue;
    if (ev.isDecryptionFailure()) {
      return { decrypted: false, body: null, failure: String(ev.decryptionFailureReason) };
    }
    return { decrypted: ev.isEncrypted(), body: content.body ?? null, failure: null };
  }
  return null;
}

async function waitReply(eventId) {
  // A reply that arrives undecryptable may become readable once its key arrives.
  const deadline = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < deadline) {
    last = await replyTo(eventId);
    if (last && last.decrypted) return last;
    await sleep(250);
  }
  return last;
}

const results = [];
for (const [index, body] of cfg.messages.entries()) {
  if (index === 1) await waitFor("the bot to join", async () => botJoined());
  const sent = await client.sendMessage(roomId, { msgtype: "m.text", body });
  results.push({ body, event_id: sent.event_id, reply: null });
  if (index > 0) results[index].reply = await waitReply(sent.event_id);
}
if (results.length > 0) results[0].reply = await waitReply(results[0].event_id);

await crypto.getUserDeviceInfo([cfg.bot], true);
const botDevices = [];
const devices = (await crypto.getUserDeviceInfo([cfg.bot])).get(cfg.bot) ?? new Map();
for (const deviceId of devices.keys()) {
  const status = await crypto.getDeviceVerificationStatus(cfg.bot, deviceId);
  botDevices.push({ device_id: deviceId, signed_by_owner: Boolean(status?.signedByOwner) });
}

client.stopClient();
process.stdout.write(
  JSON.stringify({ room_id: roomId, device_id: login.device_id, bot_devices: botDevices, results }) +
    "\n",
);
process.exit(0);
