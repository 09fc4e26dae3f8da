// The preview page in a real browser: Debian's /usr/bin/chromium driven by playwright-core (no
// browser download). Loads the page on the built package's web build, picks u1.medium + fedora,
// checks what is shown, introduces a conflicting cpu.sockets and checks the conflict message next
// to the field, and saves screenshots under target/npm/preview/.
// Run by `make test-npm` (after `make npm`): node --test e2e-tests/preview/preview.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { startServer } from "./server.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NPM_OUT = process.env.NPM_OUT ?? join(ROOT, "target", "npm");
const SHOTS = join(NPM_OUT, "preview");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];

let server;
let browser;
let page;
const problems = [];

before(async () => {
  assert.ok(existsSync(join(NPM_OUT, "kubevirt-instancetype", "web")), "the package is missing: run `make npm` first");
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-tools.sh`);
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({ port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => message.type() === "error" && problems.push(`console error: ${message.text()}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
  await page.goto(server.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const text = (selector) => page.locator(selector).innerText();

/** Waits for the page to render again after `action`. */
async function rendered(action) {
  const before = await page.locator("body").getAttribute("data-renders");
  await action();
  await page.waitForFunction((count) => document.body.dataset.renders !== count, before);
}

test("loads the package's web build and the bundled common-instancetypes", async () => {
  assert.match(await text("#version"), /^kubevirt-instancetype \d+\.\d+\.\d+/);
  assert.ok((await page.locator("#instancetype option").count()) > 60);
  assert.ok((await page.locator("#preference option").count()) > 50);
  assert.match(await text("#status"), /Admitted/);
});

test("u1.medium + fedora: CPU, memory, disk bus and NIC model", async () => {
  await rendered(() => page.selectOption("#instancetype", "u1.medium"));
  await rendered(() => page.selectOption("#preference", "fedora"));
  assert.match(await text("#status"), /^Admitted: the policy stores the VM expanded/);
  assert.equal(await text("#summary-cpu"), "1 vCPU: 1 socket × 1 core × 1 thread");
  assert.equal(await text("#summary-memory"), "4Gi");
  assert.equal(await text("#summary-disks"), "rootdisk: virtio, cloudinitdisk: virtio");
  assert.equal(await text("#summary-nics"), "default: virtio");
  assert.equal(await text("#summary-firmware"), "EFI, Secure Boot");
  const changes = await text("#changes");
  assert.match(changes, /\+ spec\.template\.spec\.domain\.memory = \{"guest":"4Gi"\}/);
  assert.match(changes, /- spec\.instancetype \(was \{"name":"u1\.medium"/);
  const vm = JSON.parse(await page.locator("#vm-json").inputValue());
  assert.deepEqual(vm.spec.instancetype, { name: "u1.medium", kind: "VirtualMachineClusterInstancetype" });
  assert.deepEqual(vm.spec.preference, { name: "fedora", kind: "VirtualMachineClusterPreference" });
  assert.equal(JSON.parse(await text("#expanded")).spec.template.spec.domain.memory.guest, "4Gi");
  await page.screenshot({ path: join(SHOTS, "expanded.png"), fullPage: true });
});

test("a conflicting cpu.sockets is reported next to the field", async () => {
  await rendered(() => page.fill("#cpu-sockets", "2"));
  assert.equal(
    await text("#cpu-sockets-error"),
    "VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type",
  );
  assert.match(await text("#status"), /^Rejected \(422\): 1 problem/);
  assert.equal(await text("#summary-cpu"), "—");
  assert.equal(await text("#expanded"), "(rejected: no VM is stored)");
  const vm = JSON.parse(await page.locator("#vm-json").inputValue());
  assert.equal(vm.spec.template.spec.domain.cpu.sockets, 2);
  await page.screenshot({ path: join(SHOTS, "conflict.png"), fullPage: true });
  // Removing it clears the error.
  await rendered(() => page.fill("#cpu-sockets", ""));
  assert.equal(await text("#cpu-sockets-error"), "");
  assert.match(await text("#status"), /^Admitted/);
});

test("a failed preference requirement is reported next to the instancetype", async () => {
  await rendered(() => page.selectOption("#instancetype", "u1.nano"));
  assert.match(await text("#instancetype-error"), /insufficient Memory resources of 512Mi provided by instance type, preference requires 2Gi/);
  await rendered(() => page.selectOption("#instancetype", "u1.medium"));
  assert.equal(await text("#instancetype-error"), "");
});

test("the page ran without errors", () => {
  assert.deepEqual(problems, []);
});
