// Assembles `make bench`'s report from the measurements the bench steps wrote (scripts/bench.sh):
//   $BENCH_OUT_DIR/native.json (benches/engine_report.rs), divan.txt (benches/engine.rs),
//   policy.json (e2e-tests/benches/policy.rs), npm.json (bench/npm.mjs), machine.json (scripts/bench.sh)
// and the module sizes. Prints the report and writes it to $BENCH_OUT_DIR/report.md.
//
//   node bench/report.mjs [--dir target/bench] [--policy policy.wasm] [--npm-wasm target/npm/.../kubevirt_instancetype_bg.wasm]
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
};
const dir = resolve(option("--dir", process.env.BENCH_OUT_DIR ?? join(root, "target/bench")));
const policyWasm = resolve(option("--policy", join(root, "policy.wasm")));
const npmWasm = resolve(
  option("--npm-wasm", join(root, "target/npm/kubevirt-instancetype/node/kubevirt_instancetype_bg.wasm")),
);

const load = (name) => {
  const path = join(dir, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run make bench`);
  return name.endsWith(".json") ? JSON.parse(readFileSync(path, "utf8")) : readFileSync(path, "utf8");
};
const native = load("native.json");
const policy = load("policy.json");
const npm = load("npm.json");
const machine = load("machine.json");
const divan = load("divan.txt");

const us = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) + " µs";
const ms = (x) => (x / 1000).toFixed(x >= 100000 ? 0 : 2) + " ms";
const times = (x) => x.toFixed(1) + "×";
const verdict = (ok) => (ok ? "**met**" : "**missed**");
const bytes = (n) => `${n.toLocaleString("en-US")} B (${(n / 1000).toFixed(0)} kB)`;

function size(path) {
  const data = readFileSync(path);
  return { raw: data.length, gzip: gzipSync(data, { level: 9 }).length };
}

const lines = [];
const out = (line = "") => lines.push(line);

// --- machine
out("# kubevirt-instancetype — `make bench`");
out();
out(`${machine.date}. Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}; ${machine.kernel}.`);
out(`${machine.rustc}; Node ${npm.node}; wasmtime ${machine.wasmtime} (wasmtime-provider ${machine.wasmtime_provider}, wapc ${machine.wapc}).`);
out(
  `Load average (1 min) before: ${machine.load_before}, after: ${machine.load_after} — other builds on the machine ` +
    "inflate every figure, the p99s most; medians are what to compare.",
);
out();

// --- 1. native
const n = native;
const ratio = n.expand.median_us / n.floor.median_us;
out(`## 1. Native engine — common-instancetypes matrix`);
out();
out(
  `${n.instancetypes} instancetypes × (${n.preferences} preferences + none) = ${n.cells} VMs (bench/vm.json: a containerDisk and ` +
    `a cloud-init volume), ${n.passes} passes, every iteration timed (benches/engine_report.rs, ${n.expand.samples.toLocaleString("en-US")} ` +
    `samples per row). One iteration is a caller's whole job: parse the VM (${n.vm_bytes_mean.toFixed(0)} B) and its instancetype + ` +
    `preference (${n.object_bytes_mean.toFixed(0)} B) from bytes (\`BorrowingSource::insert_json\`: the objects' texts are checked and ` +
    `read for their kind and name, kept borrowed, each spec decoded as its text is checked, in the same pass), ` +
    `\`engine::expand::expand_owned\`, serialize.`,
);
out();
out("| per VM | median | p99 | target | |");
out("| --- | ---: | ---: | --- | --- |");
out(`| **expand** (parse VM + objects, expand, serialize) | **${us(n.expand.median_us)}** | ${us(n.expand.p99_us)} | ≤ 10 µs median | ${verdict(n.expand.median_us <= 10)} |`);
out(`| floor: parse + serialize the VM only | ${us(n.floor.median_us)} | ${us(n.floor.p99_us)} | | |`);
// Two decimals: a ratio this close to its target must not round onto it.
out(`| **ratio expand / floor** | **${ratio.toFixed(2)}×** | | ≤ 3× | ${verdict(ratio <= 3)} |`);
out(
  `| inputs floor: parse the VM, read the objects (kind, name and spec), serialize the VM | ${us(n.inputs_floor.median_us)} | ${us(n.inputs_floor.p99_us)} | | ` +
    `${times(n.inputs_floor.median_us / n.floor.median_us)} floor before any expansion |`,
);
out(`| expand through the borrowing \`expand(&vm)\` (one VM copy more) | ${us(n.expand_borrowed.median_us)} | ${us(n.expand_borrowed.p99_us)} | | |`);
out(
  `| expand with the objects' texts copied in (\`InMemorySource::insert_json\`) | ${us(n.expand_copied.median_us)} | ${us(n.expand_copied.p99_us)} | | ` +
    `${times(n.expand_copied.median_us / n.floor.median_us)} floor |`,
);
out(
  `| expand with the objects read before the loop (specs decoded once): the VM's own part of the job | ${us(n.expand_prepared.median_us)} | ${us(n.expand_prepared.p99_us)} | | ` +
    `${times(n.expand_prepared.median_us / n.floor.median_us)} floor |`,
);
out(`| KubeVirt's Go \`Expand\`, same job (issue 5) | ~50 µs | | | floor ~17 µs, ratio ~2.9× |`);
out();
out("The same matrix by the cells' preference (the Windows preferences carry Hyper-V, timer and clock trees):");
out();
out("| preference | cells | expand median | expand p99 | objects read before the loop, median | floor median |");
out("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const [label, key] of [
  ["none", "none"],
  ["Windows (`windows.*`)", "windows"],
  ["any other", "other"],
]) {
  const g = n.by_preference[key];
  out(
    `| ${label} | ${g.cells} | ${us(g.expand.median_us)} | ${us(g.expand.p99_us)} | ${us(g.expand_prepared.median_us)} | ${us(g.floor.median_us)} |`,
  );
}
out();
const d2 = n.disks["2"];
const d50 = n.disks["50"];
const perDisk = (a, b) => (b.median_us - a.median_us) / 48;
out("Linearity — u1.medium + fedora, 2 vs 50 disks (each extra disk: a disk and a containerDisk volume):");
out();
out("| | 2 disks | 50 disks | per extra disk |");
out("| --- | ---: | ---: | ---: |");
out(`| VM size | ${d2.vm_bytes} B | ${d50.vm_bytes} B | ${((d50.vm_bytes - d2.vm_bytes) / 48).toFixed(0)} B |`);
for (const [label, key] of [
  ["expand", "expand"],
  ["floor (VM parse + serialize)", "floor"],
  ["inputs floor", "inputs_floor"],
]) {
  out(`| ${label} median | ${us(d2[key].median_us)} | ${us(d50[key].median_us)} | ${us(perDisk(d2[key], d50[key]))} |`);
}
out();
out(
  `Each extra disk costs the engine ${times(perDisk(d2.expand, d50.expand) / perDisk(d2.floor, d50.floor))} what it costs ` +
    "to parse and serialize it: a constant factor, so the cost grows linearly with the VM.",
);
out();
out("divan (benches/engine.rs; one iteration = one VM, medians of samples):");
out();
out("```");
out(divan.trim());
out("```");
out();

// --- 2. policy
const p = policy;
const p2 = p.disks_2;
const p50 = p.disks_50;
out("## 2. Policy — `validate` in wasmtime (e2e-tests/benches/policy.rs)");
out();
out(
  `The release policy.wasm through the e2e harness stack (wasmtime-provider + wapc, as policy-server), a CREATE of ` +
    `bench/vm.json (u1.medium + fedora, 2 disks; ${p2.request_bytes} B request) and of the same VM with 50 disks ` +
    `(${p50.request_bytes} B); the two lookups answered by the host callback.`,
);
out();
out("| | median | p99 | target | |");
out("| --- | ---: | ---: | --- | --- |");
out(`| compile (\`PreparedPolicy::from_path\`, ${p.compile.samples}×) | ${ms(p.compile.median_us)} | | | |`);
out(`| instantiate (fresh instance + \`wapc_init\`) | ${ms(p.instantiate.median_us)} | ${ms(p.instantiate.p99_us)} | ≤ 5 ms | ${verdict(p.instantiate.median_us <= 5000)} |`);
out(`| **warm \`validate\`, 2 disks** | **${us(p2.warm_validate.median_us)}** | ${us(p2.warm_validate.p99_us)} | ≤ 150 µs median | ${verdict(p2.warm_validate.median_us <= 150)} |`);
out(`| warm \`validate\`, 50 disks | ${us(p50.warm_validate.median_us)} | ${us(p50.warm_validate.p99_us)} | | ${us((p50.warm_validate.median_us - p2.warm_validate.median_us) / 48)} per extra disk |`);
out(`| fresh instance + \`validate\` (policy-server's per-request path), 2 disks | ${us(p2.fresh_request.median_us)} | ${us(p2.fresh_request.p99_us)} | | |`);
out(`| fresh instance + \`validate\`, 50 disks | ${us(p50.fresh_request.median_us)} | ${us(p50.fresh_request.p99_us)} | | |`);
out(`| whole harness run (\`PreparedPolicy::run\`: settings, replay, patch), 2 disks | ${us(p2.harness_run.median_us)} | ${us(p2.harness_run.p99_us)} | | |`);
out(`| whole harness run, 50 disks | ${us(p50.harness_run.median_us)} | ${us(p50.harness_run.p99_us)} | | |`);
out();

// --- 3. npm
out("## 3. npm package in Node (bench/npm.mjs)");
out();
out(
  "`expand(vm, objects)` from target/npm (the CommonJS build), per call including the JS ↔ wasm conversion of the " +
    "arguments and of the result, after a warm-up; and `prepared.expand(vm)` on a `new PreparedObjects(objects)`, " +
    "the objects read once as a console previewing on every keystroke holds them (the VM and the result still " +
    "cross on every call). `expand` keeps the objects of its last call: when the next call's objects have the " +
    "same JSON text (compared as a JS string), they are not copied in and read again. Every `expand` row below " +
    "passes the same objects again, as such a console does, except the one whose objects change on every call.",
);
out();
out("| | median | p99 | target | |");
out("| --- | ---: | ---: | --- | --- |");
out(`| **expand, bench/vm.json (2 disks), its 2 objects** | **${us(npm.disks_2.median_us)}** | ${us(npm.disks_2.p99_us)} | ≤ 60 µs median | ${verdict(npm.disks_2.median_us <= 60)} |`);
out(`| expand, 50 disks | ${us(npm.disks_50.median_us)} | ${us(npm.disks_50.p99_us)} | | ${us((npm.disks_50.median_us - npm.disks_2.median_us) / 48)} per extra disk |`);
out(`| expand, 2 disks, the whole catalogue (119 objects) as \`objects\` | ${us(npm.catalogue.median_us)} | ${us(npm.catalogue.p99_us)} | | |`);
out(`| expand, 2 disks, objects other than the last call's on every call (read anew each time) | ${us(npm.changing_2.median_us)} | ${us(npm.changing_2.p99_us)} | | |`);
out(`| **PreparedObjects.expand, 2 disks, its 2 objects** | **${us(npm.prepared_2.median_us)}** | ${us(npm.prepared_2.p99_us)} | ≤ 60 µs median | ${verdict(npm.prepared_2.median_us <= 60)} |`);
out(`| PreparedObjects.expand, 2 disks, the whole catalogue prepared | ${us(npm.prepared_catalogue.median_us)} | ${us(npm.prepared_catalogue.p99_us)} | | |`);
out();

// --- 4. sizes
const ps = size(policyWasm);
const ns = size(npmWasm);
out("## 4. Sizes");
out();
out("| module | raw | gzip -9 | target | |");
out("| --- | ---: | ---: | --- | --- |");
out(`| ${relative(root, policyWasm)} | ${bytes(ps.raw)} | ${bytes(ps.gzip)} | ≤ 1.5 MB raw | ${verdict(ps.raw <= 1_500_000)} |`);
out(`| ${relative(root, npmWasm)} | ${bytes(ns.raw)} | ${bytes(ns.gzip)} | ≤ 200 kB gzipped | ${verdict(ns.gzip <= 200_000)} |`);
out();
out("(kB = 1000 bytes.)");

const text = lines.join("\n") + "\n";
writeFileSync(join(dir, "report.md"), text);
process.stdout.write(text);
console.log(`\nwritten to ${relative(root, join(dir, "report.md"))}`);
