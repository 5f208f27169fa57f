// The official Node SDK (@knocklabs/node) against a running mockknock.
//
// Usage: KNOCK_BASE_URL=http://127.0.0.1:3737 MOCKKNOCK_NODE_SDK_DIR=/tmp/nodesdk/node_modules \
//        node tests/node/sdk_check.mjs
//
// Needs a mock whose workflows send one message per recipient (any scenario with a single channel step
// and no delay). Prints one JSON line with what it saw and exits 0, or prints the failure and exits 1.
// ESM ignores NODE_PATH, so the SDK is loaded with a require rooted in MOCKKNOCK_NODE_SDK_DIR.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const sdkDir = process.env.MOCKKNOCK_NODE_SDK_DIR || "/tmp/nodesdk/node_modules";
const baseURL = process.env.KNOCK_BASE_URL;
const apiKey = process.env.KNOCK_API_KEY || "sk_test_sdk_node";
const recipientCount = Number(process.env.SDK_CHECK_RECIPIENTS || "45");
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const require = createRequire(path.join(path.resolve(sdkDir), "_sdk_check_anchor.js"));
const sdk = require("@knocklabs/node");
// The package's "exports" hide package.json, so read it from the installed directory.
const sdkVersion = JSON.parse(
  readFileSync(path.join(path.resolve(sdkDir), "@knocklabs", "node", "package.json"), "utf8"),
).version;
const Knock = sdk.Knock ?? sdk.default;

const seen = [];
const recordingFetch = (url, init) => {
  seen.push({ method: (init && init.method) || "GET", url: String(url) });
  return fetch(url, init);
};

async function main() {
  assert.ok(baseURL, "set KNOCK_BASE_URL to the mock's URL, e.g. http://127.0.0.1:3737");
  const client = new Knock({ apiKey, baseURL, fetch: recordingFetch });
  const result = { sdk_version: sdkVersion };

  // Trigger.
  const recipients = Array.from({ length: recipientCount }, (_, i) => `node-user-${i}`);
  const triggered = await client.workflows.trigger("node-sdk-check", {
    recipients,
    actor: "node-actor",
    data: { source: "node" },
    cancellation_key: "node-ck",
  });
  assert.match(triggered.workflow_run_id, UUID4, "workflow_run_id is a UUID v4");
  result.workflow_run_id = triggered.workflow_run_id;

  // Messages are created asynchronously; wait until all are listed.
  const runId = triggered.workflow_run_id;
  let first;
  for (let tries = 0; tries < 100; tries++) {
    first = await client.messages.list({ workflow_run_id: runId, page_size: 50 });
    if (first.items.length >= recipientCount) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(first.items.length, recipientCount, "every recipient got a message");

  // Auto-pagination, 20 per page.
  const before = seen.length;
  const listed = [];
  for await (const message of client.messages.list({ workflow_run_id: runId, page_size: 20 })) {
    listed.push(message);
  }
  const pageRequests = seen.slice(before).filter((r) => new URL(r.url).pathname === "/v1/messages");
  assert.equal(listed.length, recipientCount, "auto-pagination yields every message once");
  assert.equal(new Set(listed.map((m) => m.id)).size, recipientCount, "no message twice");
  assert.equal(pageRequests.length, Math.ceil(recipientCount / 20), "one request per page");
  for (const [index, request] of pageRequests.entries()) {
    const query = new URL(request.url).searchParams;
    assert.equal(query.get("page_size"), "20");
    assert.equal(query.get("workflow_run_id"), runId);
    assert.equal(query.has("after"), index > 0, "pages after the first send the after cursor");
  }
  result.listed = listed.length;
  result.pages = pageRequests.length;

  // Status filter in the SDK's bracket form.
  const delivered = [];
  for await (const message of client.messages.list({ workflow_run_id: runId, status: ["delivered"] })) {
    delivered.push(message);
  }
  assert.equal(delivered.length, recipientCount, "status[]=delivered matches delivered messages");
  assert.ok(seen.at(-1).url.includes("status%5B%5D=delivered") || seen.at(-1).url.includes("status[]=delivered"));

  // Get one.
  const one = await client.messages.get(listed[0].id);
  assert.equal(one.id, listed[0].id);
  assert.equal(one.__typename, "Message");
  assert.equal(one.source.__typename, "NotificationSource");
  assert.equal(one.source.workflow_run_id, runId);
  assert.deepEqual(one.actors, ["node-actor"]);
  assert.deepEqual(one.data, { source: "node" });
  result.got = one.id;

  // Engagement returns the message; batch returns an array.
  const read = await client.messages.markAsRead(one.id);
  assert.ok(read.engagement_statuses.includes("read"));
  const batch = await client.messages.batch.markAsSeen({ message_ids: listed.slice(0, 3).map((m) => m.id) });
  assert.ok(Array.isArray(batch) && batch.length === 3);

  // Cancel answers 204 with no body, which the SDK resolves to null.
  assert.equal(await client.workflows.cancel("node-sdk-check", { cancellation_key: "node-ck" }), null);

  // A 422: the SDK's error carries .status and Knock's message.
  try {
    await client.workflows.trigger("node-sdk-check", { recipients: [{ name: "no id" }] });
    assert.fail("a recipient without an id must be refused");
  } catch (error) {
    assert.ok(error instanceof sdk.UnprocessableEntityError, `expected UnprocessableEntityError, got ${error}`);
    assert.equal(error.status, 422);
    assert.equal(typeof error.error?.message, "string");
    assert.equal(error.message, `422 ${error.error.message}`);
    assert.ok(Array.isArray(error.error.errors) && error.error.errors.length > 0, "422 lists errors[]");
    result.error_status = error.status;
    result.error_message = error.message;
  }

  // A 404 for an unknown message.
  try {
    await client.messages.get("2w3YUpTTOxuDvZFji8OMsKrG176");
    assert.fail("an unknown message must be a 404");
  } catch (error) {
    assert.ok(error instanceof sdk.NotFoundError, `expected NotFoundError, got ${error}`);
    assert.equal(error.status, 404);
  }

  // A bad key: 401.
  const badClient = new Knock({ apiKey: "not-a-knock-key", baseURL, maxRetries: 0 });
  try {
    await badClient.workflows.trigger("node-sdk-check", { recipients: ["u1"] });
    assert.fail("a bad key must be refused");
  } catch (error) {
    assert.ok(error instanceof sdk.AuthenticationError, `expected AuthenticationError, got ${error}`);
    assert.equal(error.status, 401);
  }

  result.ok = true;
  console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(`sdk_check failed: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
