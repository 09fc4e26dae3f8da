// The npm package in Node (`make bench`; docs/performance.md): per-call `expand(vm, objects)` including the
// JS <-> wasm conversion of the arguments and the result, after a warm-up.
//
//   node bench/npm.mjs [--package target/npm/kubevirt-instancetype] [--out target/bench/npm.json] [--iterations N]
//
// The VM is bench/vm.json (u1.medium + fedora, a containerDisk and a cloud-init disk); `objects` holds the
// two cluster objects it names, from data/common-instancetypes/. Also measured: the same VM with 50 disks
// (built as benches/common/mod.rs builds it), and the 2-disk VM with the whole bundled catalogue as
// `objects` (65 instancetypes + 54 preferences, what a console holding the catalogue might pass), and
// `new PreparedObjects(objects).expand(vm)`: the objects read once, as a console previewing on every
// keystroke holds them (the VM and the result still cross on every call). `expand` keeps the objects of
// its last call and reuses them when the next call's have the same JSON (every row above but one);
// `changing_2` passes other objects on every call, so they are read anew each time.
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
};
const packageDir = resolve(option("--package", join(root, "target/npm/kubevirt-instancetype")));
const out = resolve(option("--out", join(process.env.BENCH_OUT_DIR ?? join(root, "target/bench"), "npm.json")));
const iterations = Number(option("--iterations", "20000"));

const require = createRequire(import.meta.url);
const pkg = require(join(packageDir, "node/kubevirt_instancetype.js"));

const readJson = (path) => JSON.parse(readFileSync(join(root, path), "utf8"));
const instancetypes = readJson("data/common-instancetypes/common-clusterinstancetypes-bundle.json");
const preferences = readJson("data/common-instancetypes/common-clusterpreferences-bundle.json");
const named = (list, name) => {
  const found = list.find((o) => o.metadata.name === name);
  if (!found) throw new Error(`${name} is not bundled`);
  return found;
};

function vmWithDisks(disks) {
  const vm = readJson("bench/vm.json");
  const spec = vm.spec.template.spec;
  for (let index = 3; index <= disks; index++) {
    const name = `disk${index}`;
    spec.domain.devices.disks.push({ name, disk: {} });
    spec.volumes.push({ name, containerDisk: { image: "quay.io/containerdisks/fedora:41" } });
  }
  return vm;
}

function summary(samples) {
  samples.sort((a, b) => a - b);
  const n = samples.length;
  const rank = (p) => samples[Math.min(n, Math.max(1, Math.ceil(p * n))) - 1];
  const sum = samples.reduce((a, b) => a + b, 0);
  return {
    samples: n,
    min_us: samples[0],
    median_us: rank(0.5),
    mean_us: sum / n,
    p90_us: rank(0.9),
    p99_us: rank(0.99),
    max_us: samples[n - 1],
  };
}

function measure(vm, objects, rounds) {
  return measureCalls(vm, (v) => pkg.expand(v, objects), rounds);
}

function measureCalls(vm, expand, rounds) {
  const first = expand(vm);
  if (!first.ok || !first.changed || first.vm.spec.template.spec.domain.cpu.sockets !== 1) {
    throw new Error(`unexpected expand result: ${JSON.stringify(first).slice(0, 400)}`);
  }
  for (let i = 0; i < Math.max(200, rounds / 10); i++) expand(vm);
  const samples = new Array(rounds);
  let sink = 0;
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    const result = expand(vm);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    sink += result.warnings.length;
  }
  if (sink < 0) console.log(sink);
  return summary(samples);
}

const objects = [named(instancetypes, "u1.medium"), named(preferences, "fedora")];
const report = {
  node: process.version,
  package: packageDir,
  disks_2: measure(vmWithDisks(2), objects, iterations),
  disks_50: measure(vmWithDisks(50), objects, Math.round(iterations / 10)),
  catalogue: measure(vmWithDisks(2), [...instancetypes, ...preferences], Math.round(iterations / 20)),
};
// Objects other than the last call's on every call (the same two in the other order: other JSON), so
// `expand` reads them anew each time instead of reusing the ones it kept.
const swapped = [objects[1], objects[0]];
let flip = false;
report.changing_2 = measureCalls(vmWithDisks(2), (vm) => pkg.expand(vm, (flip = !flip) ? objects : swapped), iterations);
const prepared = new pkg.PreparedObjects(objects);
report.prepared_2 = measureCalls(vmWithDisks(2), (vm) => prepared.expand(vm), iterations);
prepared.free();
const preparedCatalogue = new pkg.PreparedObjects([...instancetypes, ...preferences]);
report.prepared_catalogue = measureCalls(vmWithDisks(2), (vm) => preparedCatalogue.expand(vm), iterations);
preparedCatalogue.free();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
const f = (x) => x.toFixed(1);
console.log(
  `npm expand (Node ${process.version}): 2 disks median ${f(report.disks_2.median_us)} µs p99 ${f(report.disks_2.p99_us)} µs; ` +
    `50 disks median ${f(report.disks_50.median_us)} µs; whole catalogue as objects median ${f(report.catalogue.median_us)} µs; ` +
    `objects changing every call median ${f(report.changing_2.median_us)} µs; ` +
    `PreparedObjects 2 disks median ${f(report.prepared_2.median_us)} µs p99 ${f(report.prepared_2.p99_us)} µs, ` +
    `catalogue prepared median ${f(report.prepared_catalogue.median_us)} µs`,
);
console.log(`wrote ${out}`);
